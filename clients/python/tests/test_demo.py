"""ADBC against `lakeflight serve --demo` (the mall WiFi tables lakeflight
writes itself). PyIceberg did not write these, so filtered results are
checked differentially: DuckDB runs the same WHERE clause over lakeflight's
full SELECT * of the table, and raw Flight DoGet must agree with ADBC."""

from __future__ import annotations


import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from util import assert_same_rows, rows_of

# Columns DESIGN.md gives each demo table (the server may add more).
DEMO_COLUMNS = {
    "mall.probe_events": {"id", "shop_code", "ap_ip", "occur_time", "user_device_mac", "rssi", "ap_mac", "pt"},
    "mall.shops": {"shop_code", "shop_name"},
    "mall.device_places": {"user_device_mac", "x", "y", "min_rssi"},
    "mall.devices": {"info"},
}


def run(conn, sql: str, params=None) -> pa.Table:
    cur = conn.cursor()
    try:
        cur.execute(sql, params)
        return cur.fetch_arrow_table()
    finally:
        cur.close()


@pytest.fixture(scope="module")
def demo_tables(demo_conn) -> dict[str, pa.Table]:
    return {name: run(demo_conn, f"SELECT * FROM {name}") for name in DEMO_COLUMNS}


@pytest.mark.parametrize("name", list(DEMO_COLUMNS))
def test_demo_table_readable(demo_tables, name):
    t = demo_tables[name]
    assert t.num_rows > 0, f"{name} is empty"
    missing = DEMO_COLUMNS[name] - set(t.column_names)
    assert not missing, f"{name}: columns {t.column_names} lack {sorted(missing)}"


def test_demo_get_objects(demo_conn):
    objs = demo_conn.adbc_get_objects(depth="tables").read_all().to_pylist()
    found = {
        f"{s['db_schema_name']}.{t['table_name']}"
        for c in objs
        for s in c["catalog_db_schemas"] or []
        for t in s["db_schema_tables"] or []
    }
    assert set(DEMO_COLUMNS) <= found, f"tables listed: {sorted(found)}"


def _literal(v, t: pa.DataType) -> str:
    if pa.types.is_timestamp(t):
        kw = "TIMESTAMPTZ" if t.tz else "TIMESTAMP"
        return f"{kw} '{v.isoformat(sep=' ')}'"
    if pa.types.is_date(t):
        return f"DATE '{v.isoformat()}'"
    if isinstance(v, str):
        return "'" + v.replace("'", "''") + "'"
    return str(v)


def _differential_cases(t: pa.Table) -> list[str]:
    """WHERE clauses over probe_events built from values present in the data."""
    schema = t.schema
    shops = sorted(x for x in pc.unique(t["shop_code"]).to_pylist() if x is not None)
    rssi = sorted(x for x in t["rssi"].to_pylist() if x is not None)
    times = sorted(x for x in t["occur_time"].to_pylist() if x is not None)
    med_rssi = rssi[len(rssi) // 2]
    med_time = times[len(times) // 2]
    s1, s2 = shops[0], shops[len(shops) // 2]
    lit = lambda col, v: _literal(v, schema.field(col).type)  # noqa: E731
    return [
        f"rssi > {lit('rssi', med_rssi)}",
        f"shop_code = {lit('shop_code', s1)} AND rssi <= {lit('rssi', med_rssi)}",
        f"shop_code IN ({lit('shop_code', s1)}, {lit('shop_code', s2)}) OR rssi IS NULL",
        f"NOT (shop_code = {lit('shop_code', s2)})",
        f"occur_time >= {lit('occur_time', med_time)}",
        f"rssi BETWEEN {lit('rssi', rssi[len(rssi) // 4])} AND {lit('rssi', med_rssi)} AND occur_time < {lit('occur_time', med_time)}",
        f"user_device_mac LIKE '{str(t['user_device_mac'][0].as_py())[:4]}%'",
    ]


def test_probe_events_filters_match_duckdb(demo_conn, demo_tables):
    full = demo_tables["mall.probe_events"]
    con = duckdb.connect()
    con.register("probe_events", full)
    failures = []
    for where in _differential_cases(full):
        sql_lf = f"SELECT * FROM mall.probe_events WHERE {where}"
        want = con.sql(f"SELECT * FROM probe_events WHERE {where}").to_arrow_table()
        try:
            got = run(demo_conn, sql_lf)
            assert_same_rows(got, want, ["id"], sql_lf)
        except Exception as e:  # collect all, report together
            failures.append(f"{sql_lf}\n    {type(e).__name__}: {e}")
    assert not failures, "\n".join(failures)


def test_probe_events_limit_and_params(demo_conn, demo_tables):
    full = demo_tables["mall.probe_events"]
    by_id = {r["id"]: r for r in rows_of(full)}
    got = rows_of(run(demo_conn, "SELECT * FROM mall.probe_events LIMIT 7"))
    assert len(got) == min(7, full.num_rows)
    assert all(by_id[r["id"]] == r for r in got)
    shop = full["shop_code"][0].as_py()
    got = run(demo_conn, "SELECT id, shop_code FROM mall.probe_events WHERE shop_code = ?", (shop,))
    want = full.filter(pc.equal(full["shop_code"], shop)).select(["id", "shop_code"])
    assert_same_rows(got, want, ["id"], f"shop_code = ? [{shop}]")


@pytest.mark.parametrize("name,key", [("mall.shops", "shop_code"), ("mall.device_places", "user_device_mac")])
def test_dimension_key_lookup(demo_conn, demo_tables, name, key):
    full = demo_tables[name]
    k = full[key][full.num_rows // 2].as_py()
    got = run(demo_conn, f"SELECT * FROM {name} WHERE {key} = ?", (k,))
    want = full.filter(pc.equal(full[key], k))
    assert_same_rows(got, want, [key], f"{name} {key} = {k!r}")


def _sort_nullable(values):
    return sorted(values, key=lambda v: (v is None, v if v is not None else ""))


@pytest.mark.parametrize(
    "spelling,path",
    [
        ("(info).vendor", ["vendor"]),  # PostgreSQL's field selection
        ("info.vendor", ["vendor"]),  # column before table when info is no table
        ("(info).os.name", ["os", "name"]),  # two levels
    ],
)
def test_nested_field_access(demo_conn, demo_tables, spelling, path):
    """Nested paths in the PostgreSQL dialect, checked against the struct
    values of SELECT *."""
    full = demo_tables["mall.devices"]
    assert pa.types.is_struct(full.schema.field("info").type), full.schema.field("info").type

    def dig(v):
        for p in path:
            v = None if v is None else v.get(p)
        return v

    want = _sort_nullable(dig(r) for r in full["info"].to_pylist())
    got = run(demo_conn, f"SELECT {spelling} FROM mall.devices")
    assert got.num_columns == 1, got.schema
    assert got.schema.field(0).name == path[-1], got.schema
    assert _sort_nullable(got.column(0).to_pylist()) == want, f"SELECT {spelling}: wrong values"


def test_raw_flight_matches_adbc_on_demo(demo_server, demo_tables):
    import pyarrow.flight as flight

    from util import command_statement_query

    c = flight.FlightClient(demo_server.uri)
    try:
        info = c.get_flight_info(flight.FlightDescriptor.for_command(command_statement_query("SELECT * FROM mall.shops")))
        assert info.schema is not None
        got = pa.concat_tables([c.do_get(ep.ticket).read_all() for ep in info.endpoints])
    finally:
        c.close()
    assert_same_rows(got, demo_tables["mall.shops"], ["shop_code"], "mall.shops via DoGet")
