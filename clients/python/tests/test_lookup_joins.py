"""Lookup joins in SQL, through ADBC, on the demo warehouse: probe events
enriched with shop names and device positions. A join asked to be a lookup
join (a hint, Flink's FOR SYSTEM_TIME AS OF <column>, or the lookup_joins
session option) shows LookupJoin in EXPLAIN with its reason, and returns
what the hash join returns, in every lookup mode."""

from __future__ import annotations

import adbc_driver_flightsql as flightsql_opts
import pyarrow as pa
import pytest

MODES = ["full", "partial", "none"]

QUERIES = {
    "inner": """SELECT e.id, s.shop_name, s.floor FROM mall.probe_events e
                JOIN mall.shops s ON e.shop_code = s.shop_code WHERE e.id < 3000""",
    "left": """SELECT e.id, p.x, p.y FROM mall.probe_events e
               LEFT JOIN mall.device_places p ON e.user_device_mac = p.user_device_mac WHERE e.id < 3000""",
    "two dimensions": """SELECT e.id, s.shop_name, p.min_rssi FROM mall.probe_events e
               JOIN mall.shops s ON e.shop_code = s.shop_code
               LEFT JOIN mall.device_places p ON e.user_device_mac = p.user_device_mac
               WHERE e.id < 2000 AND s.floor >= 1""",
    "aggregate": """SELECT s.category, count(*) AS n FROM mall.probe_events e
               JOIN mall.shops s ON e.shop_code = s.shop_code GROUP BY s.category""",
}


def run(conn, query: str) -> pa.Table:
    with conn.cursor() as cur:
        cur.execute(query)
        return cur.fetch_arrow_table()


def ordered(t: pa.Table) -> pa.Table:
    return t.sort_by([(c, "ascending") for c in t.column_names])


def explain(conn, query: str) -> str:
    t = run(conn, "EXPLAIN " + query)
    return "\n".join(str(v) for v in t.column(t.num_columns - 1).to_pylist())


# Session options live in a cookie: the driver keeps it only with its
# cookie middleware on.
COOKIES = {"adbc.flight.sql.rpc.with_cookie_middleware": "true"}


def set_option(conn, name: str, value: str) -> None:
    conn.adbc_connection.set_options(**{flightsql_opts.ConnectionOptions.OPTION_SESSION_OPTION_PREFIX.value + name: value})


@pytest.fixture(scope="module")
def hashed(demo_server, adbc_connect):
    conn = adbc_connect(demo_server, **COOKIES)
    set_option(conn, "lookup_joins", "off")
    out = {}
    for name, q in QUERIES.items():
        assert "LookupJoin" not in explain(conn, q), name
        out[name] = ordered(run(conn, q))
        assert out[name].num_rows > 0, name
    return out


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", list(QUERIES))
def test_session_option_equals_hash_join(demo_server, adbc_connect, hashed, mode, name):
    conn = adbc_connect(demo_server, **COOKIES)
    set_option(conn, "lookup_joins", "prefer")
    set_option(conn, "lookup_mode", mode)
    plan = explain(conn, QUERIES[name])
    assert "LookupJoin" in plan, plan
    assert f"mode={mode}" in plan, plan
    got = ordered(run(conn, QUERIES[name]))
    assert got.equals(hashed[name]), f"{name} in {mode} mode differs from the hash join"


def test_hint_and_system_time(demo_server, adbc_connect, hashed):
    conn = adbc_connect(demo_server, **COOKIES)
    hinted = QUERIES["inner"].replace("SELECT", "SELECT /*+ LOOKUP(s) */", 1)
    plan = explain(conn, hinted)
    assert "LookupJoin" in plan and "hint" in plan, plan
    assert ordered(run(conn, hinted)).equals(hashed["inner"])

    flink = """SELECT e.id, s.shop_name, s.floor FROM mall.probe_events e
               JOIN mall.shops FOR SYSTEM_TIME AS OF e.occur_time AS s ON e.shop_code = s.shop_code
               WHERE e.id < 3000"""
    plan = explain(conn, flink)
    assert "LookupJoin" in plan, plan
    assert ordered(run(conn, flink)).equals(hashed["inner"])

    no = QUERIES["inner"].replace("SELECT", "SELECT /*+ NO_LOOKUP(s) */", 1)
    set_option(conn, "lookup_joins", "prefer")
    assert "LookupJoin" not in explain(conn, no)


def test_explain_analyze_counts_lookups(demo_server, adbc_connect):
    conn = adbc_connect(demo_server, **COOKIES)
    set_option(conn, "lookup_joins", "prefer")
    set_option(conn, "lookup_mode", "full")
    t = run(conn, "EXPLAIN ANALYZE " + QUERIES["left"])
    text = "\n".join(str(v) for v in t.column(t.num_columns - 1).to_pylist())
    # ids start at 1: 2,999 events, each key looked up once.
    assert "LookupJoin" in text and "lookups=2999 " in text and "hits=2999 " in text, text


def test_bad_session_option_value(demo_server, adbc_connect):
    conn = adbc_connect(demo_server, **COOKIES)
    with pytest.raises(Exception):
        set_option(conn, "lookup_mode", "sometimes")
