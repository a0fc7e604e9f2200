"""SQL beyond single-table scans (aggregates, joins, ORDER BY, DISTINCT,
window functions, arithmetic). lakeflight grows into these; until a construct
is supported it must be refused as NOT_IMPLEMENTED (gRPC Unimplemented)
naming the construct. Once it answers, the answer must equal DuckDB's over
the same PyIceberg data. Either way the test asserts something real."""

from __future__ import annotations

import adbc_driver_manager
import duckdb
import pytest

import make_fixtures
from util import GRPC_UNIMPLEMENTED, assert_adbc_error, rows_of

NS = make_fixtures.NAMESPACE

# (id, SQL (PostgreSQL dialect, valid in DuckDB too), words the refusal must
# name (any one), whether row order matters)
CASES = [
    ("group_by", f"SELECT category, count(*) AS n, sum(amount) AS s FROM {NS}.events GROUP BY category",
     ["GROUP BY", "count", "sum"], False),
    ("count_star", f"SELECT count(*) AS n FROM {NS}.events WHERE category = 'buy'", ["count"], False),
    ("join", f"SELECT k.tenant, k.id, s.label FROM {NS}.keyed k JOIN {NS}.snapshots s ON k.id = s.id",
     ["JOIN"], False),
    ("order_by_limit", f"SELECT id, label FROM {NS}.snapshots ORDER BY id DESC LIMIT 5", ["ORDER BY"], True),
    ("distinct", f"SELECT DISTINCT category FROM {NS}.events", ["DISTINCT"], False),
    ("window", f"SELECT id, row_number() OVER (ORDER BY id) AS rn FROM {NS}.keyed", ["row_number", "OVER", "window"], False),
    ("arithmetic", f"SELECT id, id * 2 AS twice FROM {NS}.snapshots WHERE id < 3", ["*", "operator"], False),
    ("string_function", f"SELECT id, upper(label) AS u FROM {NS}.snapshots WHERE id < 3", ["upper"], False),
]


@pytest.fixture(scope="module")
def duck(pyi_catalog):
    con = duckdb.connect()
    con.execute(f"CREATE SCHEMA {NS}")
    for name in make_fixtures.EXPECTED["tables"]:
        if name in ("all_types", "nested"):
            continue  # types DuckDB need not know (uuid extension, maps): unused here
        t = pyi_catalog.load_table(f"{NS}.{name}").scan().to_arrow()
        con.register(f"_arrow_{name}", t)
        con.execute(f"CREATE TABLE {NS}.{name} AS SELECT * FROM _arrow_{name}")
    yield con
    con.close()


@pytest.mark.parametrize("sql,names,ordered", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_supported_and_right_or_refused_by_name(pyi_conn, duck, sql, names, ordered):
    cur = pyi_conn.cursor()
    try:
        try:
            cur.execute(sql)
            got = cur.fetch_arrow_table()
        except adbc_driver_manager.Error as e:
            msg = assert_adbc_error(e, "NOT_IMPLEMENTED", GRPC_UNIMPLEMENTED)
            assert any(n.lower() in msg.lower() for n in names), f"refusal names none of {names}: {msg}"
            return
    finally:
        cur.close()
    want = duck.sql(sql).to_arrow_table()
    assert got.column_names == want.column_names, (got.column_names, want.column_names)
    g, w = rows_of(got), rows_of(want)
    if not ordered:
        g, w = sorted(g, key=repr), sorted(w, key=repr)
    assert g == w, f"{sql}: lakeflight and DuckDB disagree\n  lakeflight {g[:10]}\n  duckdb     {w[:10]}"


def test_connection_survives_refusals(pyi_conn):
    cur = pyi_conn.cursor()
    try:
        cur.execute(f"SELECT id FROM {NS}.snapshots WHERE id BETWEEN 10 AND 12")
        assert sorted(cur.fetch_arrow_table().column("id").to_pylist()) == [10, 11, 12]
    finally:
        cur.close()


def _plan_lines(conn, sql):
    cur = conn.cursor()
    try:
        cur.execute(sql)
        return cur.fetch_arrow_table().column("plan").to_pylist()
    finally:
        cur.close()


def test_explain_logical_and_rules_over_adbc(pyi_conn):
    """EXPLAIN (LOGICAL) shows the optimized logical plan; EXPLAIN (RULES)
    shows it as written and after each rewrite rule, in order."""
    sql = (f"SELECT k.tenant, count(*) AS n FROM {NS}.keyed k JOIN {NS}.snapshots s ON k.id = s.id "
           f"WHERE s.id > 1 + 1 GROUP BY k.tenant")
    logical = _plan_lines(pyi_conn, "EXPLAIN (LOGICAL) " + sql)
    scans = [line.strip() for line in logical if line.strip().startswith("Scan ")]
    assert len(scans) == 2, logical
    # The folded filter reached the snapshots scan, and each scan reads
    # only the fields the query uses.
    snap = next(s for s in scans if "snapshots" in s)
    assert "filter=(id#0 > 2)" in snap and "fields=[id]" in snap, snap
    rules = _plan_lines(pyi_conn, "EXPLAIN (RULES) " + sql)
    headers = [line for line in rules if line.startswith("-- ")]
    assert headers == ["-- as written", "-- after decorrelate", "-- after fold_constants", "-- after push_filters",
                       "-- after push_limits", "-- after push_projections"], headers
    # The last step is the plan EXPLAIN (LOGICAL) shows.
    assert rules[len(rules) - len(logical):] == logical
