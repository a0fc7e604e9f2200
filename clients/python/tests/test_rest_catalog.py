"""lakeflight as a client of a real Iceberg REST catalog.

The catalog is Apache Iceberg's own REST reference server
(org.apache.iceberg.rest.RESTCatalogServer, what the apache/iceberg-rest-fixture
image runs), built from Maven Central by clients/rest/setup.sh and run with
`java -cp clients/rest/target/lib/*` on a free loopback port over a file://
warehouse in a temp dir. PyIceberg's RestCatalog writes the tables through it
(so every table, snapshot and schema change is a REST commit), lakeflight
serves them with `--catalog-uri http://127.0.0.1:PORT`, and ADBC's results
must equal PyIceberg's own scans of the same tables through the same catalog.

Nothing here is skipped: a missing java/mvn, a failing Maven build or a server
that does not come up fails the module's tests with the reason.

Environment:
  LAKEFLIGHT_REST_START_TIMEOUT  seconds to wait for the REST server (default 120)
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pyarrow as pa
import pyarrow.flight as flight
import pytest
from pyiceberg.catalog.rest import RestCatalog
from pyiceberg.expressions import (
    AlwaysTrue,
    And,
    EqualTo,
    GreaterThan,
    GreaterThanOrEqual,
    In,
    IsNull,
    LessThan,
    NotNull,
    Or,
)
from pyiceberg.schema import Schema
from pyiceberg.types import DoubleType, LongType, NestedField, StringType

import make_fixtures as mf
from util import (
    GRPC_NOT_FOUND,
    assert_adbc_error,
    assert_same_rows,
    pb_any,
    pb_bytes_field,
    rows_of,
)

REPO = Path(__file__).resolve().parents[3]
REST_DIR = REPO / "clients" / "rest"
REST_SETUP = REST_DIR / "setup.sh"
REST_MAIN = "org.apache.iceberg.rest.RESTCatalogServer"

NS = "rest_ns"
INNER = (NS, "inner")  # a two-level namespace: REST sends it as rest_ns\x1finner
INNER_SQL = '"rest_ns.inner"'  # how lakeflight names it (db_schema rest_ns.inner)
TABLES = ["events", "evolved", "growing", "keyed", "nested"]
LISTEN_RE = re.compile(r"listening on (grpc(?:\+tls)?)://(\S+?):(\d+)\b")
OPTS = flight.FlightCallOptions(timeout=120)

# events: 4 days x 500 rows in two appends (days 0-1, then 2-3), then a
# copy-on-write delete of the 'view' rows with event_id < 300.
EVENTS_ROWS = mf.events_rows(days=4, per_day=500)
EVENTS_DELETE = And(EqualTo("category", "view"), LessThan("event_id", 300))

EVOLVED_V1 = Schema(
    NestedField(1, "id", LongType(), required=True),
    NestedField(2, "name", StringType()),
)


# ------------------------------------------------------------------ processes
class Proc:
    """A subprocess in its own process group, its output kept in memory."""

    def __init__(self, name: str, argv: list[str], env: dict | None = None, watch: re.Pattern | None = None):
        self.name, self.argv, self.env, self.watch = name, argv, env, watch
        self.proc: subprocess.Popen | None = None
        self.out: list[str] = []
        self.err: list[str] = []
        self.match: re.Match | None = None
        self._matched = threading.Event()

    def _pump(self, stream, sink: list[str], watch: bool) -> None:
        for raw in iter(stream.readline, ""):
            line = raw.rstrip("\n")
            sink.append(line)
            if watch and self.watch is not None and not self._matched.is_set():
                m = self.watch.search(line)
                if m:
                    self.match = m
                    self._matched.set()
        stream.close()

    def start(self) -> "Proc":
        self.proc = subprocess.Popen(
            self.argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            bufsize=1,
            cwd=str(REPO),
            env=self.env,
            start_new_session=True,  # its own process group: stop() ends all of it
        )
        for stream, sink, watch in ((self.proc.stdout, self.out, True), (self.proc.stderr, self.err, False)):
            threading.Thread(target=self._pump, args=(stream, sink, watch), daemon=True).start()
        return self

    def wait_match(self, timeout: float) -> re.Match | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._matched.wait(0.1):
                return self.match
            if not self.alive():
                time.sleep(0.2)  # let the pumps drain
                return self.match
        return self.match

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def logs(self, tail: int = 40) -> str:
        state = "running" if self.alive() else f"exited {self.proc.poll() if self.proc else None}"
        return (
            f"--- {self.name} ({state}) stdout, last {tail} lines ---\n" + "\n".join(self.out[-tail:]) +
            f"\n--- {self.name} stderr, last {tail} lines ---\n" + "\n".join(self.err[-tail:])
        )

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(timeout=10)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_json(url: str, timeout: float = 5.0):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.status, json.loads(r.read().decode())


# Processes of this module, for failure messages.
_procs: list[Proc] = []


def server_logs(tail: int = 25) -> str:
    """lakeflight's recent output first, then the REST server's (verbose)."""
    lf = [p.logs(tail) for p in _procs if p.name.startswith("lakeflight")]
    rest = [p.logs(8) for p in _procs if not p.name.startswith("lakeflight")]
    return "\n".join(lf + rest)


# ------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module")
def rest_classpath() -> str:
    """clients/rest/setup.sh: builds target/lib once, then a no-op."""
    if shutil.which("java") is None:
        pytest.fail("no `java` on PATH: the Iceberg REST fixture needs a JDK 17+ (scripts/setup-test-env.sh installs it)")
    if shutil.which("mvn") is None and not (REST_DIR / "target" / "lib").is_dir():
        pytest.fail("no `mvn` on PATH and clients/rest/target/lib is not built: cannot build the Iceberg REST fixture")
    t0 = time.monotonic()
    try:
        p = subprocess.run(["bash", str(REST_SETUP)], capture_output=True, text=True, timeout=900, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"clients/rest/setup.sh did not finish in 900s:\n{e.stderr}")
    if p.returncode != 0:
        pytest.fail(f"clients/rest/setup.sh failed (exit {p.returncode}) after {time.monotonic() - t0:.0f}s:\n{p.stdout}\n{p.stderr}")
    lines = [ln for ln in p.stdout.splitlines() if ln.strip()]
    if not lines or not lines[-1].endswith("/*"):
        pytest.fail(f"clients/rest/setup.sh printed no classpath:\n{p.stdout}\n{p.stderr}")
    return lines[-1]


@pytest.fixture(scope="module")
def rest_server(rest_classpath, tmp_path_factory):
    """The REST reference server on 127.0.0.1:PORT, its JdbcCatalog in a
    SQLite file and its warehouse under file://<tmp>/warehouse."""
    root = tmp_path_factory.mktemp("rest_catalog")
    warehouse = root / "warehouse"
    warehouse.mkdir()
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CATALOG_")}
    env.update(
        {
            # RCKUtils: CATALOG_X_Y -> x.y, CATALOG_X__Y -> x-y
            "CATALOG_WAREHOUSE": f"file://{warehouse}",
            "CATALOG_URI": f"jdbc:sqlite:{root}/catalog.db",
            "CATALOG_REST_PORT": str(port),
        }
    )
    java = shutil.which("java")
    proc = Proc(
        "iceberg-rest",
        [java, "-Xmx512m", "-XX:+UseSerialGC", "-cp", rest_classpath, REST_MAIN],
        env=env,
    )
    _procs.append(proc)
    proc.start()
    uri = f"http://127.0.0.1:{port}"
    timeout = float(os.environ.get("LAKEFLIGHT_REST_START_TIMEOUT", "120"))
    deadline = time.monotonic() + timeout
    last = None
    try:
        while True:
            if not proc.alive():
                time.sleep(0.3)
                pytest.fail(f"the Iceberg REST server exited before answering ({' '.join(proc.argv)}):\n{proc.logs(60)}")
            # slf4j-simple logs to stderr; Jetty's "Started Server@" means its
            # connector is bound, so a reply from the port before it is not ours.
            started = any("Started Server@" in ln for ln in proc.err + proc.out)
            if started:
                try:
                    status, body = http_json(f"{uri}/v1/config")
                    if status == 200 and isinstance(body, dict) and "defaults" in body:
                        break
                    last = f"HTTP {status}: {body}"
                except (urllib.error.URLError, OSError, ValueError) as e:
                    last = repr(e)
            if time.monotonic() > deadline:
                pytest.fail(f"the Iceberg REST server did not answer GET /v1/config within {timeout:.0f}s "
                            f"(last: {last}):\n{proc.logs(60)}")
            time.sleep(0.2)
        yield {"uri": uri, "port": port, "warehouse": f"file://{warehouse}", "root": root, "proc": proc}
    finally:
        proc.stop()


def _append(table, rows: list[dict]) -> None:
    table.append(mf.arrow_table(table, rows))


@pytest.fixture(scope="module")
def rest_catalog(rest_server):
    """PyIceberg's RestCatalog on the server, with the test tables written
    through it. Also the reference for every result."""
    cat = RestCatalog("rest", uri=rest_server["uri"])
    cat.create_namespace(NS, properties={"owner": "lakeflight-interop"})
    cat.create_namespace(INNER)

    t = cat.create_table(f"{NS}.events", schema=mf.EVENTS_SCHEMA, partition_spec=mf.EVENTS_SPEC)
    _append(t, EVENTS_ROWS[:1000])
    _append(t, EVENTS_ROWS[1000:])
    t.delete(EVENTS_DELETE)

    t = cat.create_table(f"{NS}.keyed", schema=mf.KEYED_SCHEMA)
    _append(t, mf.keyed_rows())

    t = cat.create_table(f"{NS}.nested", schema=mf.NESTED_SCHEMA)
    _append(t, mf.nested_rows())

    # Schema evolution committed through REST: add a column, rename one.
    t = cat.create_table(f"{NS}.evolved", schema=EVOLVED_V1)
    _append(t, [{"id": i, "name": f"n{i}"} for i in range(20)])
    with t.update_schema() as u:
        u.add_column("score", DoubleType())
        u.rename_column("name", "label")
    t = cat.load_table(f"{NS}.evolved")
    _append(t, [{"id": i, "label": f"l{i}", "score": i / 2} for i in range(20, 40)])

    t = cat.create_table(f"{NS}.growing", schema=mf.SNAPSHOTS_SCHEMA)
    _append(t, mf.snapshot_batch(1, n=10))

    t = cat.create_table((*INNER, "small"), schema=mf.SNAPSHOTS_SCHEMA)
    _append(t, mf.snapshot_batch(1, n=7))

    # Self-check: what PyIceberg reads back through REST.
    deleted = sum(1 for r in EVENTS_ROWS if r["category"] == "view" and r["event_id"] < 300)
    want = {"events": len(EVENTS_ROWS) - deleted, "keyed": 50, "nested": 30, "evolved": 40, "growing": 10}
    for name, n in want.items():
        got = cat.load_table(f"{NS}.{name}").scan().to_arrow().num_rows
        assert got == n, f"fixture {NS}.{name}: PyIceberg reads back {got} rows through REST, expected {n}"
    assert deleted > 0
    assert len(cat.load_table(f"{NS}.events").metadata.snapshots) >= 3
    return cat


def _start_lakeflight(name: str, argv: list[str]) -> Proc:
    p = Proc(name, argv, watch=LISTEN_RE)
    _procs.append(p)
    p.start()
    timeout = float(os.environ.get("LAKEFLIGHT_START_TIMEOUT", "120"))
    if p.wait_match(timeout) is None:
        p.stop()
        pytest.fail(f"lakeflight did not print 'listening on grpc://HOST:PORT' within {timeout:.0f}s\n"
                    f"command: {' '.join(argv)}\n{p.logs(60)}\n{server_logs()}")
    return p


def _uri(p: Proc) -> str:
    return f"{p.match.group(1)}://{p.match.group(2)}:{p.match.group(3)}"


@pytest.fixture(scope="module")
def lf_rest(lakeflight_bin, rest_server, rest_catalog):
    """lakeflight serve --catalog-uri http://127.0.0.1:PORT (no --warehouse:
    the REST server owns the table locations)."""
    p = _start_lakeflight(
        "lakeflight-rest",
        [lakeflight_bin, "serve", "--catalog-uri", rest_server["uri"], "--listen", "127.0.0.1:0"],
    )
    try:
        yield p
    finally:
        p.stop()


def _connect(uri: str):
    import adbc_driver_flightsql as flightsql_opts
    import adbc_driver_flightsql.dbapi as flightsql

    return flightsql.connect(
        uri,
        db_kwargs={
            flightsql_opts.DatabaseOptions.TIMEOUT_QUERY.value: "120",
            flightsql_opts.DatabaseOptions.TIMEOUT_FETCH.value: "120",
        },
    )


@pytest.fixture(scope="module")
def conn(lf_rest):
    c = _connect(_uri(lf_rest))
    try:
        yield c
    finally:
        c.close()


# ------------------------------------------------------------------ helpers
def run(conn, sql: str, params=None) -> pa.Table:
    cur = conn.cursor()
    try:
        try:
            cur.execute(sql, params)
            return cur.fetch_arrow_table()
        except Exception as e:
            raise AssertionError(f"{sql}: {type(e).__name__}: {e}\n{server_logs()}") from e
    finally:
        cur.close()


def reference(cat, ident, row_filter=AlwaysTrue(), columns=("*",)) -> pa.Table:
    out = cat.load_table(ident).scan(row_filter=row_filter, selected_fields=columns).to_arrow()
    if columns != ("*",):
        out = out.select(list(columns))
    return out


def get_objects(conn, **kw) -> dict:
    """{catalog: {db_schema: {table: table_entry}}} of adbc_get_objects."""
    objs = conn.adbc_get_objects(**kw).read_all().to_pylist()
    return {
        c["catalog_name"]: {
            s["db_schema_name"]: {t["table_name"]: t for t in s["db_schema_tables"] or []}
            for s in c["catalog_db_schemas"] or []
        }
        for c in objs
    }


# ------------------------------------------------------------------ tests
def test_rest_server_is_the_reference_fixture(rest_server):
    """The server we test against is Iceberg's RESTCatalogServer and serves
    the catalog API (a sanity check of the fixture itself)."""
    status, body = http_json(f"{rest_server['uri']}/v1/config")
    assert status == 200
    endpoints = body.get("endpoints") or []
    assert "GET /v1/{prefix}/namespaces/{namespace}/tables/{table}" in endpoints, body
    assert "RESTCatalogServer" in "\n".join(rest_server["proc"].err), rest_server["proc"].logs()


def test_get_objects_lists_namespaces_and_tables(conn, rest_catalog):
    cats = get_objects(conn, depth="all")
    assert "default" in cats, f"catalogs: {list(cats)}"
    schemas = cats["default"]
    assert NS in schemas, f"namespaces: {list(schemas)}"
    assert "rest_ns.inner" in schemas, f"the two-level namespace rest_ns.inner is not listed: {list(schemas)}"
    assert sorted(schemas[NS]) == TABLES, f"tables in {NS}: {sorted(schemas[NS])}"
    assert sorted(schemas["rest_ns.inner"]) == ["small"]
    for name, t in schemas[NS].items():
        assert t["table_type"].upper() == "TABLE", f"{name}: table_type {t['table_type']}"
        want = [f.name for f in rest_catalog.load_table(f"{NS}.{name}").schema().fields]
        cols = sorted(t["table_columns"] or [], key=lambda c: c["ordinal_position"])
        assert [c["column_name"] for c in cols] == want, f"{NS}.{name} columns"
        assert [c["ordinal_position"] for c in cols] == list(range(1, len(want) + 1)), f"{NS}.{name} ordinals"


def test_get_objects_filters(conn):
    cats = get_objects(conn, depth="tables", catalog_filter="default", db_schema_filter=NS, table_name_filter="ke%")
    assert {s: sorted(ts) for s, ts in cats.get("default", {}).items()} == {NS: ["keyed"]}, cats


def test_get_table_schema(conn, rest_catalog):
    keyed = conn.adbc_get_table_schema("keyed", catalog_filter="default", db_schema_filter=NS)
    assert keyed.names == ["tenant", "id", "name", "score"]
    assert [str(f.type) for f in keyed] == ["string", "int32", "string", "double"]
    assert not keyed.field("tenant").nullable and not keyed.field("id").nullable
    evolved = conn.adbc_get_table_schema("evolved", catalog_filter="default", db_schema_filter=NS)
    assert evolved.names == ["id", "label", "score"], "the schema after the REST schema update"
    small = conn.adbc_get_table_schema("small", catalog_filter="default", db_schema_filter="rest_ns.inner")
    assert small.names == ["id", "batch", "label"]


def test_primary_keys_from_identifier_fields(lf_rest):
    """Flight SQL CommandGetPrimaryKeys (hand-encoded: ADBC has no call for
    it) on the table whose identifier fields are (tenant, id)."""
    cmd = pb_any(
        "type.googleapis.com/arrow.flight.protocol.sql.CommandGetPrimaryKeys",
        pb_bytes_field(1, b"default") + pb_bytes_field(2, NS.encode()) + pb_bytes_field(3, b"keyed"),
    )
    client = flight.FlightClient(_uri(lf_rest))
    try:
        info = client.get_flight_info(flight.FlightDescriptor.for_command(cmd), OPTS)
        rows = []
        for ep in info.endpoints:
            rows += client.do_get(ep.ticket, OPTS).read_all().to_pylist()
    finally:
        client.close()
    keys = sorted(rows, key=lambda r: r["key_sequence"])
    assert [(r["db_schema_name"], r["table_name"], r["column_name"], r["key_sequence"]) for r in keys] == [
        (NS, "keyed", "tenant", 1),
        (NS, "keyed", "id", 2),
    ], rows


ALL = ("*",)
# (id, table, select list, WHERE, PyIceberg filter, sort keys)
CASES = [
    ("events_full", "events", ALL, "", AlwaysTrue(), ["event_id"]),
    ("events_partition_range", "events", ALL,
     "ts >= TIMESTAMP '2024-03-02 00:00:00' AND ts < TIMESTAMP '2024-03-04 00:00:00' AND category = 'buy'",
     And(GreaterThanOrEqual("ts", "2024-03-02T00:00:00"), LessThan("ts", "2024-03-04T00:00:00"),
         EqualTo("category", "buy")), ["event_id"]),
    ("events_deleted_range", "events", ("event_id", "category"), "event_id < 400 AND category IN ('view', 'click')",
     And(LessThan("event_id", 400), In("category", {"view", "click"})), ["event_id"]),
    ("events_nulls", "events", ("event_id", "user_id", "note"), "user_id IS NULL OR note IS NOT NULL",
     Or(IsNull("user_id"), NotNull("note")), ["event_id"]),
    ("keyed_full", "keyed", ALL, "", AlwaysTrue(), ["tenant", "id"]),
    ("keyed_key_filter", "keyed", ALL, "tenant = 't3' AND id > 10", And(EqualTo("tenant", "t3"), GreaterThan("id", 10)),
     ["tenant", "id"]),
    ("nested_full", "nested", ALL, "", AlwaysTrue(), ["id"]),
    ("nested_filter", "nested", ("id", "info", "tags", "attrs"), "id >= 10", GreaterThanOrEqual("id", 10), ["id"]),
    ("evolved_full", "evolved", ALL, "", AlwaysTrue(), ["id"]),
    ("evolved_added_column_null", "evolved", ("id", "label", "score"), "score IS NULL", IsNull("score"), ["id"]),
    ("evolved_renamed_column", "evolved", ("id", "label"), "label = 'n3' OR label = 'l33'",
     Or(EqualTo("label", "n3"), EqualTo("label", "l33")), ["id"]),
]


@pytest.mark.parametrize("table,cols,where,row_filter,keys", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_query_matches_pyiceberg(conn, rest_catalog, table, cols, where, row_filter, keys):
    sql = f"SELECT {', '.join(cols)} FROM {NS}.{table}" + (f" WHERE {where}" if where else "")
    got = run(conn, sql)
    want = reference(rest_catalog, f"{NS}.{table}", row_filter, cols)
    assert want.num_rows > 0, f"reference for {sql} is empty: the case tests nothing"
    try:
        assert_same_rows(got, want, keys, sql)
    except AssertionError as e:
        raise AssertionError(f"{e}\n{server_logs()}") from None


def test_deleted_rows_are_gone(conn):
    got = run(conn, f"SELECT event_id FROM {NS}.events WHERE category = 'view' AND event_id < 300")
    assert got.num_rows == 0, f"rows deleted by the REST commit are still returned: {got.column('event_id').to_pylist()[:10]}"


def test_two_level_namespace(conn, rest_catalog):
    want = reference(rest_catalog, (*INNER, "small"))
    assert_same_rows(run(conn, f"SELECT * FROM {INNER_SQL}.small"), want, ["id"], "quoted rest_ns.inner.small")
    # Unqualified: lakeflight searches every namespace (listed through REST).
    assert_same_rows(run(conn, "SELECT * FROM small WHERE id < 100"), want, ["id"], "unqualified small")


def test_new_snapshot_is_visible(conn, rest_catalog):
    """A commit made through REST after lakeflight started shows up in the
    next query (lakeflight loads the table from the catalog, not a cache)."""
    before = run(conn, f"SELECT id FROM {NS}.growing")
    assert sorted(before.column("id").to_pylist()) == list(range(10))
    t = rest_catalog.load_table(f"{NS}.growing")
    _append(t, mf.snapshot_batch(2, n=10))
    after = run(conn, f"SELECT * FROM {NS}.growing")
    assert_same_rows(after, reference(rest_catalog, f"{NS}.growing"), ["id"], "after a second append")
    assert after.num_rows == 20


def test_missing_table_is_not_found(conn):
    import adbc_driver_manager

    cur = conn.cursor()
    try:
        with pytest.raises(adbc_driver_manager.Error) as ei:
            cur.execute(f"SELECT * FROM {NS}.no_such_table")
            cur.fetch_arrow_table()
    finally:
        cur.close()
    assert_adbc_error(ei.value, "NOT_FOUND", GRPC_NOT_FOUND, ["no_such_table"])
    with pytest.raises(adbc_driver_manager.Error) as ei:
        c2 = conn.cursor()
        try:
            c2.execute("SELECT * FROM no_such_ns.keyed")
            c2.fetch_arrow_table()
        finally:
            c2.close()
    assert_adbc_error(ei.value, "NOT_FOUND", GRPC_NOT_FOUND, ["no_such_ns"])
    assert rows_of(run(conn, f"SELECT id FROM {NS}.keyed WHERE tenant = 't0' AND id = 0")) == [{"id": 0}]


def test_warehouse_flag_accepted(lakeflight_bin, rest_server, rest_catalog):
    """--warehouse with a REST catalog (sent as the warehouse of /v1/config):
    a user passing the server's warehouse gets the same tables."""
    p = _start_lakeflight(
        "lakeflight-rest-warehouse",
        [lakeflight_bin, "serve", "--catalog-uri", rest_server["uri"], "--warehouse", rest_server["warehouse"],
         "--listen", "127.0.0.1:0"],
    )
    try:
        c = _connect(_uri(p))
        try:
            got = run(c, f"SELECT * FROM {NS}.keyed WHERE score IS NULL")
            assert_same_rows(got, reference(rest_catalog, f"{NS}.keyed", IsNull("score")), ["tenant", "id"], "with --warehouse")
        finally:
            c.close()
    finally:
        p.stop()
