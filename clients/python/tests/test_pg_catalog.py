"""PostgreSQL SQL catalog: PyIceberg's SqlCatalog writes some of the fixture
tables into a real PostgreSQL database (a throwaway cluster on 127.0.0.1,
conftest pg_cluster), and lakeflight serves them with
--catalog-uri postgresql://iceberg_rw:PW@127.0.0.1:PORT/iceberg. ADBC results
are compared with PyIceberg's scan through the same PostgreSQL catalog.

PostgreSQL missing on the machine is a failure, not a skip:
scripts/setup-test-env.sh installs it."""

from __future__ import annotations

import pyarrow as pa
import pytest
from pyiceberg.expressions import (
    AlwaysTrue,
    And,
    EqualTo,
    GreaterThan,
    GreaterThanOrEqual,
    In,
    IsNull,
    LessThan,
)
from pyiceberg.schema import Schema
from pyiceberg.types import IntegerType, LongType, NestedField, StringType

import make_fixtures
import pgcluster
from util import assert_same_go_rows, assert_same_rows, run_adbccheck

NS = make_fixtures.NAMESPACE
PG_TABLES = make_fixtures.POSTGRES_TABLES


def reference(cat, table, row_filter=AlwaysTrue(), columns=("*",), ns=NS) -> pa.Table:
    out = cat.load_table(f"{ns}.{table}").scan(row_filter=row_filter, selected_fields=columns).to_arrow()
    return out.select(list(columns)) if columns != ("*",) else out


def query(conn, sql: str, params=None) -> pa.Table:
    cur = conn.cursor()
    try:
        cur.execute(sql, params)
        return cur.fetch_arrow_table()
    finally:
        cur.close()


@pytest.fixture(scope="module")
def pg_conn(pg_server, adbc_connect):
    return adbc_connect(pg_server)


def test_catalog_rows_live_in_postgresql(pg_cluster, pg_fixtures):
    """The fixture tables really are in PostgreSQL, in PyIceberg's SqlCatalog
    layout (iceberg_tables), under catalog_name 'default'."""
    conn = pg_cluster.connect()
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT catalog_name, table_namespace, table_name, metadata_location FROM iceberg_tables")
            rows = cur.fetchall()
    finally:
        conn.close()
    assert sorted((c, n, t) for c, n, t, _ in rows) == sorted(("default", NS, t) for t in PG_TABLES), rows
    assert all(m.startswith("file://") and m.endswith(".metadata.json") for *_, m in rows), rows


CASES = [
    ("all_types_full", "all_types", "*", "", AlwaysTrue(), ["id"]),
    ("all_types_filter", "all_types", "*", "c_int > 0 AND c_string IS NOT NULL",
     GreaterThan("c_int", 0), ["id"]),
    ("all_types_nulls", "all_types", "id, c_string, c_dec_38_10", "c_string IS NULL", IsNull("c_string"), ["id"]),
    ("events_partitions", "events", "*",
     "ts >= TIMESTAMP '2024-03-04 00:00:00' AND ts < TIMESTAMP '2024-03-06 00:00:00' AND category IN ('buy', 'view')",
     And(And(GreaterThanOrEqual("ts", "2024-03-04T00:00:00"), LessThan("ts", "2024-03-06T00:00:00")),
         In("category", {"buy", "view"})), ["event_id"]),
    ("events_full", "events", "*", "", AlwaysTrue(), ["event_id"]),
    ("keyed_full", "keyed", "*", "", AlwaysTrue(), ["tenant", "id"]),
    ("snapshots_batch", "snapshots", "id, batch, label", "batch = 2", EqualTo("batch", 2), ["id"]),
]


@pytest.mark.parametrize("table,select,where,row_filter,keys", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_adbc_over_postgresql_catalog_matches_pyiceberg(pg_conn, pg_catalog, table, select, where, row_filter, keys):
    sql = f"SELECT {select} FROM {NS}.{table}" + (f" WHERE {where}" if where else "")
    cols = ("*",) if select == "*" else tuple(c.strip() for c in select.split(","))
    assert_same_rows(query(pg_conn, sql), reference(pg_catalog, table, row_filter, cols), keys, sql)


def test_parameterized_query_over_postgresql_catalog(pg_conn, pg_catalog):
    got = query(pg_conn, f"SELECT id, label FROM {NS}.snapshots WHERE id > ? AND batch = ?", (150, 2))
    want = reference(pg_catalog, "snapshots", And(GreaterThan("id", 150), EqualTo("batch", 2)), ("id", "label"))
    assert want.num_rows == 49
    assert_same_rows(got, want, ["id"], "snapshots id > 150 AND batch = 2")


def test_go_adbc_over_postgresql_catalog(adbccheck_bin, pg_server, pg_catalog):
    cols = ("tenant", "id", "name", "score")
    res = run_adbccheck(adbccheck_bin, pg_server.uri, f"SELECT {', '.join(cols)} FROM {NS}.keyed WHERE tenant = ?",
                        ["string:t4"]).ok()
    assert_same_go_rows(res.columns, res.rows, reference(pg_catalog, "keyed", EqualTo("tenant", "t4"), cols), ["id"])


def test_metadata_lists_the_postgresql_tables(pg_conn):
    objs = pg_conn.adbc_get_objects(depth="tables").read_all().to_pylist()
    by_catalog = {c["catalog_name"]: c for c in objs}
    assert "default" in by_catalog, objs
    schemas = {s["db_schema_name"]: s for s in by_catalog["default"]["catalog_db_schemas"]}
    assert NS in schemas, schemas.keys()
    tables = sorted(t["table_name"] for t in schemas[NS]["db_schema_tables"])
    assert tables == sorted(PG_TABLES)
    schema = pg_conn.adbc_get_table_schema("keyed", db_schema_filter=NS)
    assert schema.names == ["tenant", "id", "name", "score"]


LIVE_NS = "pg_live"
LIVE_SCHEMA = Schema(
    NestedField(1, "id", LongType(), required=True),
    NestedField(2, "batch", IntegerType(), required=True),
    NestedField(3, "label", StringType()),
)


def test_commits_after_start_are_visible(pg_conn, pg_catalog):
    """Another writer (PyIceberg) creates a namespace and a table in the
    PostgreSQL catalog and appends twice while lakeflight runs: each query sees
    the catalog's current snapshot."""
    pg_catalog.create_namespace(LIVE_NS)
    t = pg_catalog.create_table(f"{LIVE_NS}.growing", schema=LIVE_SCHEMA)
    arrow_schema = t.schema().as_arrow()
    for batch in (1, 2):
        rows = [{"id": (batch - 1) * 10 + k, "batch": batch, "label": f"live{batch}-{k}"} for k in range(10)]
        t.append(pa.Table.from_pylist(rows, schema=arrow_schema))
        got = query(pg_conn, f"SELECT id, batch, label FROM {LIVE_NS}.growing")
        assert got.num_rows == 10 * batch, f"after append {batch}: {got.num_rows} rows"
        assert_same_rows(got, reference(pg_catalog, "growing", ns=LIVE_NS), ["id"], f"after append {batch}")


def test_wrong_password_fails_startup_clearly(lakeflight_bin, pg_cluster, pg_fixtures, start_server):
    bad = "wrong-pw-71f0"
    argv = [lakeflight_bin, "serve", "--catalog-uri", pg_cluster.lakeflight_uri(bad),
            "--warehouse", f"file://{pg_fixtures[1]}", "--listen", "127.0.0.1:0"]
    s = start_server("pg-badpw", argv, must_listen=False, timeout=60)
    out = "\n".join(s.stdout_lines + s.stderr_lines)
    assert s.port == 0 and s.proc.poll() not in (None, 0), f"started with a wrong catalog password\n{s.logs()}"
    assert "password authentication failed" in out or "28P01" in out, s.logs()
    assert bad not in out, f"the catalog password appears in lakeflight's output\n{s.logs()}"


def test_catalog_password_not_printed(pg_server):
    """lakeflight's own output (the listening line, hints, logs) must not show
    the PostgreSQL password of --catalog-uri; catalog errors already redact it."""
    out = "\n".join(pg_server.stdout_lines + pg_server.stderr_lines)
    assert pgcluster.CATALOG_PASSWORD not in out, (
        "the --catalog-uri password is printed by lakeflight:\n"
        + "\n".join(l for l in out.splitlines() if pgcluster.CATALOG_PASSWORD in l)
    )
