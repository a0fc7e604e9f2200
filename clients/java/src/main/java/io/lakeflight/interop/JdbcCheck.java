package io.lakeflight.interop;

import java.math.BigDecimal;
import java.sql.Connection;
import java.sql.DatabaseMetaData;
import java.sql.DriverManager;
import java.sql.JDBCType;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * Checks a Flight SQL server through the Arrow Flight SQL JDBC driver.
 *
 * <p>Prints one line per passed check ({@code OK name detail}); on the first failure prints
 * {@code FAIL name detail} (with the exception chain) and exits 1. Bad arguments exit 2.
 *
 * <p>Every expectation is an argument; the defaults describe the PyIceberg fixtures written by
 * clients/python/make_fixtures.py (catalog "default", namespace "pyi").
 *
 * <pre>
 * java --add-opens=java.base/java.nio=ALL-UNNAMED -jar target/jdbc-check.jar \
 *   --host 127.0.0.1 --port 31337 --user U --password P [--expect value ...]
 * </pre>
 *
 * <p>TLS: {@code --encryption true} with {@code --tls-root-certs cert.pem} (trust that PEM) or
 * {@code --disable-cert-verification true}.
 */
public final class JdbcCheck {

  /** Argument names and their defaults (the PyIceberg fixtures). */
  private static Map<String, String> defaults() {
    Map<String, String> d = new LinkedHashMap<>();
    d.put("host", "127.0.0.1");
    d.put("port", "");
    d.put("user", "");
    d.put("password", "");
    d.put("token", "");
    // TLS: useEncryption, a PEM file of certificates to trust (tlsRootCerts),
    // or no verification at all (disableCertificateVerification).
    d.put("encryption", "false");
    d.put("tls-root-certs", "");
    d.put("disable-cert-verification", "false");
    // Only check that the connection is refused as unauthenticated, then exit.
    d.put("expect-auth-failure", "false");
    d.put("catalog", "default");
    d.put("schema", "pyi");
    // Exact set of tables getTables(catalog, schema, "%") must return.
    d.put("tables", "all_types,empty,events,keyed,nested,snapshots");
    // getColumns of one table: name:JDBCType:IS_NULLABLE, in ordinal order.
    d.put("columns-table", "keyed");
    d.put("columns", "tenant:VARCHAR:NO,id:INTEGER:NO,name:VARCHAR:YES,score:DOUBLE:YES");
    // getPrimaryKeys of one table: column names in KEY_SEQ order.
    d.put("pk-table", "keyed");
    d.put("pk", "tenant,id");
    // Statement query and what it must return.
    d.put("query", "SELECT id, batch, label FROM pyi.snapshots");
    d.put("query-columns", "id,batch,label");
    d.put("query-rows", "300");
    d.put("query-sum", "id=44850");
    // Row key -> expected string value "keycol=keyval:col=value".
    d.put("query-value", "id=260:label=b3-60");
    // PreparedStatement with one parameter.
    d.put("prepared", "SELECT id, label FROM pyi.snapshots WHERE id > ?");
    d.put("param", "250");
    d.put("prepared-rows", "49");
    d.put("prepared-sum", "id=13475");
    // One row read with typed getters: col=value,... (values of make_fixtures.py, id 1).
    d.put("values-query", "SELECT * FROM pyi.all_types WHERE id = 1");
    d.put("values", "id=1,c_bool=false,c_int=-463,c_long=-989999999981,c_float=0.25,c_double=-98.75,"
        + "c_dec_9_2=-9876.55,c_dec_38_10=112345678901234567.0001000123,c_date=2024-01-02,"
        + "c_time=07:13:01,c_ts=2024-03-01T01:00:00.000001,c_tstz=2024-03-01T00:17:00Z,c_string=beta-001");
    // Tables read with SELECT * and getObject on every cell: name=rows,...
    d.put("scan", "pyi.all_types=200,pyi.nested=30,pyi.events=10000,pyi.empty=0");
    return d;
  }

  private final Map<String, String> opt;

  private JdbcCheck(Map<String, String> opt) {
    this.opt = opt;
  }

  public static void main(String[] args) {
    Map<String, String> opt = defaults();
    for (int i = 0; i < args.length; i++) {
      String a = args[i];
      if (!a.startsWith("--") || !opt.containsKey(a.substring(2))) {
        System.err.println("unknown argument: " + a + "; known: " + opt.keySet());
        System.exit(2);
      }
      String key = a.substring(2);
      if (key.equals("expect-auth-failure")) {
        opt.put(key, "true");
        continue;
      }
      if (i + 1 >= args.length) {
        System.err.println("missing value for " + a);
        System.exit(2);
      }
      opt.put(key, args[++i]);
    }
    if (opt.get("port").isEmpty()) {
      System.err.println("--port is required");
      System.exit(2);
    }
    int rc;
    try {
      rc = new JdbcCheck(opt).run();
    } catch (CheckFailed e) {
      System.out.println("FAIL " + e.check + " " + e.getMessage());
      if (e.getCause() != null) {
        printChain(e.getCause());
      }
      rc = 1;
    } catch (Throwable t) {
      System.out.println("FAIL unexpected " + t);
      printChain(t);
      rc = 1;
    }
    System.out.flush();
    // The driver keeps non-daemon gRPC threads around: exit explicitly.
    System.exit(rc);
  }

  private static void printChain(Throwable t) {
    for (Throwable c = t; c != null; c = c.getCause()) {
      System.out.println("  caused by: " + c.getClass().getName() + ": " + c.getMessage());
      if (c.getCause() == c) {
        break;
      }
    }
  }

  static final class CheckFailed extends RuntimeException {
    final String check;

    CheckFailed(String check, String message, Throwable cause) {
      super(message, cause);
      this.check = check;
    }
  }

  private static void ok(String check, String detail) {
    System.out.println("OK " + check + " " + detail);
    System.out.flush();
  }

  private static void require(boolean cond, String check, String message) {
    if (!cond) {
      throw new CheckFailed(check, message, null);
    }
  }

  private String url(boolean withSecrets) {
    StringBuilder sb = new StringBuilder("jdbc:arrow-flight-sql://")
        .append(opt.get("host")).append(':').append(opt.get("port"))
        .append("/?useEncryption=").append(Boolean.parseBoolean(opt.get("encryption")));
    if (!opt.get("tls-root-certs").isEmpty()) {
      sb.append("&tlsRootCerts=").append(opt.get("tls-root-certs"));
    }
    if (Boolean.parseBoolean(opt.get("disable-cert-verification"))) {
      sb.append("&disableCertificateVerification=true");
    }
    if (!opt.get("user").isEmpty()) {
      sb.append("&user=").append(opt.get("user"));
      sb.append("&password=").append(withSecrets ? opt.get("password") : "***");
    }
    if (!opt.get("token").isEmpty()) {
      sb.append("&token=").append(withSecrets ? opt.get("token") : "***");
    }
    return sb.toString();
  }

  private int run() throws Exception {
    if (Boolean.parseBoolean(opt.get("expect-auth-failure"))) {
      return runExpectAuthFailure();
    }
    Connection conn;
    try {
      conn = DriverManager.getConnection(url(true));
    } catch (SQLException e) {
      throw new CheckFailed("connect", url(false) + ": " + e.getMessage(), e);
    }
    try (conn) {
      ok("connect", url(false));
      checkMetadata(conn);
      checkStatement(conn);
      checkPrepared(conn);
      checkValues(conn);
      checkScans(conn);
    }
    ok("all", "checks passed");
    return 0;
  }

  private int runExpectAuthFailure() {
    String check = "auth_rejected";
    try (Connection conn = DriverManager.getConnection(url(true));
        Statement st = conn.createStatement();
        ResultSet rs = st.executeQuery(opt.get("query"))) {
      while (rs.next()) {
        // drain
      }
    } catch (SQLException e) {
      String chain = chain(e);
      require(chain.toUpperCase().contains("UNAUTHENTICATED"), check,
          "expected an UNAUTHENTICATED error, got: " + chain);
      ok(check, firstLine(e.getMessage()));
      return 0;
    }
    throw new CheckFailed(check, "connection with bad credentials was accepted: " + url(false), null);
  }

  private static String chain(Throwable t) {
    StringBuilder sb = new StringBuilder();
    for (Throwable c = t; c != null; c = c.getCause()) {
      sb.append(c.getClass().getName()).append(": ").append(c.getMessage()).append(" | ");
      if (c.getCause() == c) {
        break;
      }
    }
    return sb.toString();
  }

  private static String firstLine(String s) {
    if (s == null) {
      return "";
    }
    int nl = s.indexOf('\n');
    return nl < 0 ? s : s.substring(0, nl);
  }

  private static List<String> csv(String s) {
    List<String> out = new ArrayList<>();
    if (s == null || s.isBlank()) {
      return out;
    }
    for (String p : s.split(",")) {
      out.add(p.trim());
    }
    return out;
  }

  private void checkMetadata(Connection conn) throws SQLException {
    DatabaseMetaData md = conn.getMetaData();
    String catalog = opt.get("catalog");
    String schema = opt.get("schema");

    List<String> catalogs = new ArrayList<>();
    try (ResultSet rs = md.getCatalogs()) {
      while (rs.next()) {
        catalogs.add(rs.getString("TABLE_CAT"));
      }
    } catch (SQLException e) {
      throw new CheckFailed("getCatalogs", e.getMessage(), e);
    }
    require(catalogs.contains(catalog), "getCatalogs", "expected " + catalog + " in " + catalogs);
    ok("getCatalogs", catalogs.toString());

    List<String> schemas = new ArrayList<>();
    try (ResultSet rs = md.getSchemas(catalog, null)) {
      while (rs.next()) {
        String cat = rs.getString("TABLE_CATALOG");
        require(catalog.equals(cat), "getSchemas",
            "schema " + rs.getString("TABLE_SCHEM") + " has TABLE_CATALOG " + cat + ", expected " + catalog);
        schemas.add(rs.getString("TABLE_SCHEM"));
      }
    } catch (SQLException e) {
      throw new CheckFailed("getSchemas", e.getMessage(), e);
    }
    require(schemas.contains(schema), "getSchemas", "expected " + schema + " in " + schemas);
    ok("getSchemas", schemas.toString());

    TreeSet<String> tables = new TreeSet<>();
    try (ResultSet rs = md.getTables(catalog, schema, "%", null)) {
      while (rs.next()) {
        require(schema.equals(rs.getString("TABLE_SCHEM")), "getTables",
            "table " + rs.getString("TABLE_NAME") + " in schema " + rs.getString("TABLE_SCHEM"));
        tables.add(rs.getString("TABLE_NAME"));
      }
    } catch (SQLException e) {
      throw new CheckFailed("getTables", e.getMessage(), e);
    }
    TreeSet<String> wantTables = new TreeSet<>(csv(opt.get("tables")));
    require(tables.equals(wantTables), "getTables", "expected " + wantTables + ", got " + tables);
    ok("getTables", tables.toString());

    String colTable = opt.get("columns-table");
    List<String> cols = new ArrayList<>();
    try (ResultSet rs = md.getColumns(catalog, schema, colTable, "%")) {
      TreeMap<Integer, String> byPos = new TreeMap<>();
      while (rs.next()) {
        String name = rs.getString("COLUMN_NAME");
        int dataType = rs.getInt("DATA_TYPE");
        String type;
        try {
          type = JDBCType.valueOf(dataType).getName();
        } catch (IllegalArgumentException e) {
          type = "JDBC_TYPE_" + dataType;
        }
        byPos.put(rs.getInt("ORDINAL_POSITION"), name + ":" + type + ":" + rs.getString("IS_NULLABLE"));
      }
      cols.addAll(byPos.values());
    } catch (SQLException e) {
      throw new CheckFailed("getColumns", e.getMessage(), e);
    }
    List<String> wantCols = csv(opt.get("columns"));
    require(cols.equals(wantCols), "getColumns",
        schema + "." + colTable + ": expected " + wantCols + ", got " + cols);
    ok("getColumns", schema + "." + colTable + " " + cols);

    String pkTable = opt.get("pk-table");
    TreeMap<Integer, String> pk = new TreeMap<>();
    try (ResultSet rs = md.getPrimaryKeys(catalog, schema, pkTable)) {
      while (rs.next()) {
        pk.put(rs.getInt("KEY_SEQ"), rs.getString("COLUMN_NAME"));
      }
    } catch (SQLException e) {
      throw new CheckFailed("getPrimaryKeys", e.getMessage(), e);
    }
    List<String> gotPk = new ArrayList<>(pk.values());
    List<String> wantPk = csv(opt.get("pk"));
    require(gotPk.equals(wantPk), "getPrimaryKeys",
        schema + "." + pkTable + ": expected " + wantPk + ", got " + gotPk + " (by KEY_SEQ " + pk + ")");
    ok("getPrimaryKeys", schema + "." + pkTable + " " + gotPk);
  }

  /** Result of draining a ResultSet: row count, one sum, and a keyed lookup. */
  private static final class Drained {
    long rows;
    List<String> columns = new ArrayList<>();
    BigDecimal sum = BigDecimal.ZERO;
    String lookedUp;
    boolean found;
  }

  private static Drained drain(ResultSet rs, String sumCol, String keyCol, String keyVal, String valCol)
      throws SQLException {
    Drained d = new Drained();
    ResultSetMetaData md = rs.getMetaData();
    for (int i = 1; i <= md.getColumnCount(); i++) {
      d.columns.add(md.getColumnName(i));
    }
    while (rs.next()) {
      d.rows++;
      if (sumCol != null) {
        d.sum = d.sum.add(new BigDecimal(rs.getLong(sumCol)));
      }
      if (keyCol != null && keyVal.equals(rs.getString(keyCol))) {
        d.found = true;
        d.lookedUp = rs.getString(valCol);
      }
    }
    return d;
  }

  private void checkStatement(Connection conn) {
    String check = "statement";
    String sql = opt.get("query");
    String[] sum = opt.get("query-sum").split("=", 2);
    // "keycol=keyval:col=value"
    String[] kv = opt.get("query-value").split(":", 2);
    String[] key = kv[0].split("=", 2);
    String[] val = kv[1].split("=", 2);
    Drained d;
    try (Statement st = conn.createStatement(); ResultSet rs = st.executeQuery(sql)) {
      d = drain(rs, sum[0], key[0], key[1], val[0]);
    } catch (SQLException e) {
      throw new CheckFailed(check, sql + ": " + e.getMessage(), e);
    }
    List<String> wantCols = csv(opt.get("query-columns"));
    require(d.columns.equals(wantCols), check, sql + ": columns " + d.columns + ", expected " + wantCols);
    long wantRows = Long.parseLong(opt.get("query-rows"));
    require(d.rows == wantRows, check, sql + ": " + d.rows + " rows, expected " + wantRows);
    require(d.sum.equals(new BigDecimal(sum[1])), check,
        sql + ": sum(" + sum[0] + ")=" + d.sum + ", expected " + sum[1]);
    require(d.found, check, sql + ": no row with " + key[0] + "=" + key[1]);
    require(val[1].equals(d.lookedUp), check,
        sql + ": " + val[0] + "=" + d.lookedUp + " where " + key[0] + "=" + key[1] + ", expected " + val[1]);
    ok(check, "rows=" + d.rows + " sum(" + sum[0] + ")=" + d.sum + " " + val[0] + "=" + d.lookedUp);
  }

  private void checkPrepared(Connection conn) {
    String check = "prepared";
    String sql = opt.get("prepared");
    String[] sum = opt.get("prepared-sum").split("=", 2);
    long param = Long.parseLong(opt.get("param"));
    Drained d;
    int paramCount = -1;
    try (PreparedStatement ps = conn.prepareStatement(sql)) {
      try {
        paramCount = ps.getParameterMetaData().getParameterCount();
      } catch (SQLException e) {
        throw new CheckFailed(check, sql + ": getParameterMetaData: " + e.getMessage(), e);
      }
      ps.setLong(1, param);
      try (ResultSet rs = ps.executeQuery()) {
        d = drain(rs, sum[0], null, null, null);
      }
    } catch (SQLException e) {
      throw new CheckFailed(check, sql + " [" + param + "]: " + e.getMessage(), e);
    }
    require(paramCount == 1, check, sql + ": parameter count " + paramCount + ", expected 1");
    long wantRows = Long.parseLong(opt.get("prepared-rows"));
    require(d.rows == wantRows, check, sql + " [" + param + "]: " + d.rows + " rows, expected " + wantRows);
    require(d.sum.equals(new BigDecimal(sum[1])), check,
        sql + " [" + param + "]: sum(" + sum[0] + ")=" + d.sum + ", expected " + sum[1]);
    ok(check, "param=" + param + " rows=" + d.rows + " sum(" + sum[0] + ")=" + d.sum);
  }

  /** Typed getters on one known row: what a BI tool shows for each type. */
  private void checkValues(Connection conn) {
    String check = "values";
    String sql = opt.get("values-query");
    List<String> want = csv(opt.get("values"));
    if (want.isEmpty()) {
      return;
    }
    List<String> got = new ArrayList<>();
    List<String> bad = new ArrayList<>();
    try (Statement st = conn.createStatement(); ResultSet rs = st.executeQuery(sql)) {
      require(rs.next(), check, sql + ": no row");
      ResultSetMetaData md = rs.getMetaData();
      for (String pair : want) {
        String[] kv = pair.split("=", 2);
        int i = rs.findColumn(kv[0]);
        String v;
        switch (md.getColumnType(i)) {
          case java.sql.Types.TIMESTAMP_WITH_TIMEZONE:
            v = String.valueOf(rs.getTimestamp(i).toInstant());
            break;
          case java.sql.Types.TIMESTAMP:
            v = String.valueOf(rs.getTimestamp(i).toLocalDateTime());
            break;
          case java.sql.Types.DATE:
            v = String.valueOf(rs.getDate(i).toLocalDate());
            break;
          case java.sql.Types.TIME:
            v = String.valueOf(rs.getTime(i).toLocalTime());
            break;
          case java.sql.Types.DECIMAL:
          case java.sql.Types.NUMERIC:
            v = rs.getBigDecimal(i).toPlainString();
            break;
          default:
            v = rs.getString(i);
        }
        got.add(kv[0] + "=" + v);
        if (!kv[1].equals(v)) {
          bad.add(kv[0] + " (" + md.getColumnTypeName(i) + "): got " + v + ", expected " + kv[1]);
        }
      }
      require(!rs.next(), check, sql + ": more than one row");
    } catch (SQLException | RuntimeException e) {
      if (e instanceof CheckFailed) {
        throw (CheckFailed) e;
      }
      throw new CheckFailed(check, sql + ": " + e, e);
    }
    require(bad.isEmpty(), check, sql + ": " + bad);
    ok(check, String.join(",", got));
  }

  /** SELECT * and getObject on every cell: every Arrow type the server sends must decode. */
  private void checkScans(Connection conn) {
    for (String spec : csv(opt.get("scan"))) {
      String[] p = spec.split("=", 2);
      String table = p[0];
      long want = Long.parseLong(p[1]);
      String check = "scan";
      String sql = "SELECT * FROM " + table;
      long rows = 0;
      long nonNull = 0;
      List<String> types = new ArrayList<>();
      try (Statement st = conn.createStatement(); ResultSet rs = st.executeQuery(sql)) {
        ResultSetMetaData md = rs.getMetaData();
        int n = md.getColumnCount();
        for (int i = 1; i <= n; i++) {
          types.add(md.getColumnName(i) + ":" + md.getColumnTypeName(i));
        }
        while (rs.next()) {
          rows++;
          for (int i = 1; i <= n; i++) {
            Object o;
            try {
              o = md.getColumnType(i) == java.sql.Types.TIMESTAMP_WITH_TIMEZONE
                  // Driver bug apache/arrow-java#839 (fixed after 18.3.0): getObject(int)
                  // throws "not implemented" for TIMESTAMP_WITH_TIMEZONE.
                  ? rs.getTimestamp(i)
                  : rs.getObject(i);
              // Render too: catches values the driver cannot convert.
              String.valueOf(o);
            } catch (SQLException | RuntimeException e) {
              throw new CheckFailed(check, sql + ": getObject(" + types.get(i - 1) + ") at row " + rows + ": " + e, e);
            }
            if (o != null) {
              nonNull++;
            }
          }
        }
      } catch (SQLException e) {
        throw new CheckFailed(check, sql + " (after " + rows + " rows): " + e, e);
      }
      require(rows == want, check, sql + ": " + rows + " rows, expected " + want);
      require(want == 0 || nonNull > 0, check, sql + ": every value was NULL");
      ok(check, table + " rows=" + rows + " non_null_cells=" + nonNull + " " + types);
    }
  }
}
