"""ADBC Go (github.com/apache/arrow-adbc/go/adbc/driver/flightsql) through
database/sql (adbc/sqldriver): clients/go/adbccheck runs each query against
lakeflight serving the PyIceberg fixtures and prints typed JSON lines, which
are compared with PyIceberg's own scan rendered the same way (util.render_go).

The Go driver binds parameters only on prepared statements: adbccheck runs
db.Prepare(sql) then stmt.Query(args...) whenever parameters are given. Its
database/sql layer cannot read fixed_size_binary (uuid, fixed) and drops NULLs
inside nested values, so the queries name primitive columns only."""

from __future__ import annotations

import pytest
from pyiceberg.expressions import (
    AlwaysTrue,
    And,
    EqualTo,
    GreaterThan,
    GreaterThanOrEqual,
    LessThan,
    LessThanOrEqual,
)

import make_fixtures
from util import GRPC_NOT_FOUND, assert_same_go_rows, run_adbccheck

NS = make_fixtures.NAMESPACE

# every all_types column the Go database/sql layer can read
PRIMS = ("id", "c_bool", "c_int", "c_long", "c_float", "c_double", "c_dec_9_2", "c_dec_38_10", "c_date",
         "c_time", "c_ts", "c_tstz", "c_string", "c_binary")
EVENTS = ("event_id", "ts", "category", "user_id", "amount", "note")


def reference(cat, table, row_filter=AlwaysTrue(), columns=("*",)):
    out = cat.load_table(f"{NS}.{table}").scan(row_filter=row_filter, selected_fields=columns).to_arrow()
    return out.select(list(columns)) if columns != ("*",) else out


def cols(c) -> str:
    return ", ".join(c)


# (id, SQL, params, table, PyIceberg filter, columns, sort keys)
CASES = [
    ("all_types_every_readable_type", f"SELECT {cols(PRIMS)} FROM {NS}.all_types", [],
     "all_types", AlwaysTrue(), PRIMS, ["id"]),
    ("all_types_filter", f"SELECT {cols(PRIMS)} FROM {NS}.all_types WHERE c_int > 0 AND c_bool = true", [],
     "all_types", And(GreaterThan("c_int", 0), EqualTo("c_bool", True)), PRIMS, ["id"]),
    ("events_partition_range",
     f"SELECT {cols(EVENTS)} FROM {NS}.events WHERE ts >= TIMESTAMP '2024-03-03 00:00:00' "
     "AND ts < TIMESTAMP '2024-03-05 00:00:00' AND category = 'buy'", [],
     "events", And(And(GreaterThanOrEqual("ts", "2024-03-03T00:00:00"), LessThan("ts", "2024-03-05T00:00:00")),
                   EqualTo("category", "buy")), EVENTS, ["event_id"]),
    ("keyed_full", f"SELECT * FROM {NS}.keyed", [], "keyed", AlwaysTrue(), ("*",), ["tenant", "id"]),
    ("empty", f"SELECT * FROM {NS}.empty", [], "empty", AlwaysTrue(), ("*",), ["id"]),
    # parameters: prepared statement + bound Arrow record
    ("param_int64", f"SELECT id, batch, label FROM {NS}.snapshots WHERE id > ?", ["int64:250"],
     "snapshots", GreaterThan("id", 250), ("id", "batch", "label"), ["id"]),
    ("param_string_int32", f"SELECT tenant, id, name, score FROM {NS}.keyed WHERE tenant = ? AND id < ?",
     ["string:t3", "int32:30"], "keyed", And(EqualTo("tenant", "t3"), LessThan("id", 30)),
     ("tenant", "id", "name", "score"), ["id"]),
    ("param_float64_between", f"SELECT id, c_double, c_dec_9_2 FROM {NS}.all_types WHERE c_double BETWEEN ? AND ?",
     ["float64:-50", "float64:75.5"], "all_types",
     And(GreaterThanOrEqual("c_double", -50.0), LessThanOrEqual("c_double", 75.5)), ("id", "c_double", "c_dec_9_2"), ["id"]),
    ("param_events_partition", f"SELECT {cols(EVENTS)} FROM {NS}.events WHERE category = ? AND user_id <= ?",
     ["string:view", "int32:5"], "events", And(EqualTo("category", "view"), LessThanOrEqual("user_id", 5)),
     EVENTS, ["event_id"]),
    ("param_dollar_two", f"SELECT id, label FROM {NS}.snapshots WHERE id >= $1 AND id < $2",
     ["int64:140", "int64:160"], "snapshots", And(GreaterThanOrEqual("id", 140), LessThan("id", 160)),
     ("id", "label"), ["id"]),
]


@pytest.mark.parametrize("sql,params,table,row_filter,columns,keys", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_go_sqldriver_matches_pyiceberg(adbccheck_bin, pyi_server, pyi_catalog, sql, params, table, row_filter, columns, keys):
    res = run_adbccheck(adbccheck_bin, pyi_server.uri, sql, params).ok()
    assert_same_go_rows(res.columns, res.rows, reference(pyi_catalog, table, row_filter, columns), keys, f"{sql} {params}")


def test_go_prepared_without_params_equals_plain_query(adbccheck_bin, pyi_server, pyi_catalog):
    sql = f"SELECT {cols(PRIMS)} FROM {NS}.all_types WHERE id < 40"
    plain = run_adbccheck(adbccheck_bin, pyi_server.uri, sql).ok()
    prepared = run_adbccheck(adbccheck_bin, pyi_server.uri, sql, extra=["-prepare"]).ok()
    assert prepared.columns == plain.columns
    want = reference(pyi_catalog, "all_types", LessThan("id", 40), PRIMS)
    assert_same_go_rows(plain.columns, plain.rows, want, ["id"], "plain query")
    assert_same_go_rows(prepared.columns, prepared.rows, want, ["id"], "prepared, no parameters")


def test_go_prepared_statement_rebinds(adbccheck_bin, pyi_server, pyi_catalog):
    """Two runs of the same prepared SQL with different values give different,
    correct answers (no result cached across bindings)."""
    sql = f"SELECT id, batch FROM {NS}.snapshots WHERE batch = ?"
    for b in (1, 3):
        res = run_adbccheck(adbccheck_bin, pyi_server.uri, sql, [f"int32:{b}"]).ok()
        assert_same_go_rows(res.columns, res.rows, reference(pyi_catalog, "snapshots", EqualTo("batch", b), ("id", "batch")), ["id"])
        assert res.count == 100


def test_go_unknown_table_fails_with_not_found(adbccheck_bin, pyi_server):
    res = run_adbccheck(adbccheck_bin, pyi_server.uri, f"SELECT * FROM {NS}.no_such_table")
    assert res.rc == 1, res.describe()
    assert f"grpc_code={GRPC_NOT_FOUND}" in res.error, res.describe()
    assert "no_such_table" in res.error, res.describe()
