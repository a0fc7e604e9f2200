"""ADBC (adbc_driver_flightsql.dbapi) against lakeflight serving the tables
PyIceberg wrote. Every result is compared with PyIceberg's own scan of the
same table with the same filter and projection."""

from __future__ import annotations

import datetime as dt
import decimal

import pyarrow as pa
import pyarrow.compute as pc
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
    LessThanOrEqual,
    Not,
    NotIn,
    NotNull,
    Or,
    StartsWith,
)

import make_fixtures
from util import arrow_type_name, assert_same_rows, rows_of

NS = make_fixtures.NAMESPACE


def run(conn, sql: str, params=None) -> pa.Table:
    cur = conn.cursor()
    try:
        cur.execute(sql, params)
        return cur.fetch_arrow_table()
    finally:
        cur.close()


def reference(pyi_catalog, table: str, row_filter=AlwaysTrue(), columns: tuple[str, ...] = ("*",), post=None) -> pa.Table:
    """PyIceberg's scan of NS.table; `post` filters further in Arrow (for LIKE)."""
    t = pyi_catalog.load_table(f"{NS}.{table}")
    out = t.scan(row_filter=row_filter, selected_fields=columns).to_arrow()
    if post is not None:
        out = out.filter(post(out))
    if columns != ("*",):
        out = out.select(list(columns))
    return out


# (id, table, select list, WHERE clause, PyIceberg filter, Arrow post-filter, sort keys)
ALL = ("*",)
CASES = [
    ("all_types_full", "all_types", ALL, "", AlwaysTrue(), None, ["id"]),
    ("gt", "all_types", ALL, "c_int > 0", GreaterThan("c_int", 0), None, ["id"]),
    ("and", "all_types", ALL, "c_int >= -100 AND c_bool = true",
     And(GreaterThanOrEqual("c_int", -100), EqualTo("c_bool", True)), None, ["id"]),
    ("or", "all_types", ALL, "c_int < -400 OR c_double > 150",
     Or(LessThan("c_int", -400), GreaterThan("c_double", 150.0)), None, ["id"]),
    ("not", "all_types", ALL, "NOT (c_int > 0)", Not(GreaterThan("c_int", 0)), None, ["id"]),
    ("in", "all_types", ALL, "id IN (1, 2, 3, 50, 199, 500)", In("id", {1, 2, 3, 50, 199, 500}), None, ["id"]),
    # SQL: NULL NOT IN (...) is NULL, so NULL rows are not returned.
    ("not_in", "all_types", ALL, "c_int NOT IN (-500, -463, 111)",
     And(NotNull("c_int"), NotIn("c_int", {-500, -463, 111})), None, ["id"]),
    ("between_date", "all_types", ALL, "c_date BETWEEN DATE '2024-02-01' AND DATE '2024-03-01'",
     And(GreaterThanOrEqual("c_date", "2024-02-01"), LessThanOrEqual("c_date", "2024-03-01")), None, ["id"]),
    ("is_null", "all_types", ALL, "c_string IS NULL", IsNull("c_string"), None, ["id"]),
    ("is_not_null", "all_types", ALL, "c_binary IS NOT NULL", NotNull("c_binary"), None, ["id"]),
    ("like_prefix", "all_types", ALL, "c_string LIKE 'gamma%'", StartsWith("c_string", "gamma"), None, ["id"]),
    ("like_infix", "all_types", ("id", "c_string"), "c_string LIKE '%a-1_2%'", AlwaysTrue(),
     lambda t: pc.fill_null(pc.match_like(t["c_string"], "%a-1_2%"), False), ["id"]),
    ("decimal_gt", "all_types", ("id", "c_dec_9_2", "c_dec_38_10"), "c_dec_9_2 > 100.50",
     GreaterThan("c_dec_9_2", decimal.Decimal("100.50")), None, ["id"]),
    ("timestamptz_ge", "all_types", ("id", "c_tstz"), "c_tstz >= TIMESTAMPTZ '2024-03-02 00:00:00+00'",
     GreaterThanOrEqual("c_tstz", "2024-03-02T00:00:00+00:00"), None, ["id"]),
    ("timestamp_lt", "all_types", ("id", "c_ts"), "c_ts < TIMESTAMP '2024-03-03 12:00:00'",
     LessThan("c_ts", "2024-03-03T12:00:00"), None, ["id"]),
    ("float_eq", "all_types", ("id", "c_float"), "c_float = 2.75", EqualTo("c_float", 2.75), None, ["id"]),
    ("string_eq", "all_types", ("c_string", "id"), "c_string = 'beta-001'", EqualTo("c_string", "beta-001"), None, ["id"]),
    ("projection_reordered", "all_types", ("c_string", "c_long", "id"), "id < 20", LessThan("id", 20), None, ["id"]),
    ("events_partition_range", "events", ALL,
     "ts >= TIMESTAMP '2024-03-03 00:00:00' AND ts < TIMESTAMP '2024-03-05 00:00:00' AND category = 'buy'",
     And(GreaterThanOrEqual("ts", "2024-03-03T00:00:00"), LessThan("ts", "2024-03-05T00:00:00"),
         EqualTo("category", "buy")), None, ["event_id"]),
    ("events_null", "events", ("event_id", "user_id", "amount"), "user_id IS NULL", IsNull("user_id"), None, ["event_id"]),
    ("events_in_between", "events", ALL, "category IN ('click', 'view') AND event_id BETWEEN 100 AND 200",
     And(In("category", {"click", "view"}), GreaterThanOrEqual("event_id", 100), LessThanOrEqual("event_id", 200)),
     None, ["event_id"]),
    ("events_and_not_null", "events", ("event_id", "amount", "note"), "amount > 100 AND note IS NOT NULL",
     And(GreaterThan("amount", 100.0), NotNull("note")), None, ["event_id"]),
    ("events_full", "events", ALL, "", AlwaysTrue(), None, ["event_id"]),
    ("snapshots_batch", "snapshots", ALL, "batch = 2", EqualTo("batch", 2), None, ["id"]),
    ("snapshots_full", "snapshots", ALL, "", AlwaysTrue(), None, ["id"]),
    ("keyed_or_null", "keyed", ALL, "tenant = 't3' OR score IS NULL",
     Or(EqualTo("tenant", "t3"), IsNull("score")), None, ["tenant", "id"]),
    ("nested_full", "nested", ALL, "", AlwaysTrue(), None, ["id"]),
    ("nested_struct_filter", "nested", ("id", "info", "attrs"), "id >= 10", GreaterThanOrEqual("id", 10), None, ["id"]),
    ("empty", "empty", ALL, "", AlwaysTrue(), None, ["id"]),
]


@pytest.mark.parametrize(
    "table,cols,where,row_filter,post,keys", [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_query_matches_pyiceberg(pyi_conn, pyi_catalog, table, cols, where, row_filter, post, keys):
    sql = f"SELECT {', '.join(cols)} FROM {NS}.{table}" + (f" WHERE {where}" if where else "")
    got = run(pyi_conn, sql)
    want = reference(pyi_catalog, table, row_filter, cols, post)
    if table != "empty":
        assert want.num_rows > 0, f"reference for {sql} is empty: the case tests nothing"
    assert_same_rows(got, want, keys, sql)


def test_limit(pyi_conn, pyi_catalog):
    sql = f"SELECT event_id, category FROM {NS}.events WHERE category = 'buy' LIMIT 10"
    got = run(pyi_conn, sql)
    assert got.column_names == ["event_id", "category"]
    assert got.num_rows == 10, sql
    want = {r["event_id"]: r for r in rows_of(reference(pyi_catalog, "events", EqualTo("category", "buy"), ("event_id", "category")))}
    rows = rows_of(got)
    assert len({r["event_id"] for r in rows}) == 10, f"{sql}: duplicate rows {rows}"
    for r in rows:
        assert want.get(r["event_id"]) == r, f"{sql}: row {r} is not in the filtered table"


def test_limit_larger_than_table(pyi_conn, pyi_catalog):
    got = run(pyi_conn, f"SELECT * FROM {NS}.snapshots LIMIT 1000")
    assert_same_rows(got, reference(pyi_catalog, "snapshots"), ["id"], "LIMIT 1000")


def test_limit_zero_keeps_schema(pyi_conn):
    got = run(pyi_conn, f"SELECT id, label FROM {NS}.snapshots LIMIT 0")
    assert got.num_rows == 0
    assert got.column_names == ["id", "label"]


# Arrow types lakeflight must send for each Iceberg type (DESIGN.md: plain
# Utf8/Binary, never the View types; Decimal128).
EXPECTED_TYPES = {
    "id": [pa.int64()],
    "c_bool": [pa.bool_()],
    "c_int": [pa.int32()],
    "c_long": [pa.int64()],
    "c_float": [pa.float32()],
    "c_double": [pa.float64()],
    "c_dec_9_2": [pa.decimal128(9, 2)],
    "c_dec_38_10": [pa.decimal128(38, 10)],
    "c_date": [pa.date32()],
    "c_time": [pa.time64("us")],
    "c_ts": [pa.timestamp("us")],
    "c_tstz": [pa.timestamp("us", tz="UTC"), pa.timestamp("us", tz="+00:00"), pa.timestamp("us", tz="Etc/UTC")],
    "c_string": [pa.string()],
    "c_uuid": ["extension<arrow.uuid>", pa.binary(16)],
    "c_binary": [pa.binary()],
    "c_fixed": [pa.binary(16)],
}


def check_all_types_schema(schema: pa.Schema, what: str) -> None:
    assert schema.names == list(EXPECTED_TYPES), f"{what}: columns {schema.names}"
    bad = []
    for f in schema:
        allowed = EXPECTED_TYPES[f.name]
        name = arrow_type_name(f.type)
        if not any(name == (a if isinstance(a, str) else arrow_type_name(a)) for a in allowed):
            bad.append(f"{f.name}: {name}, expected one of {[str(a) for a in allowed]}")
    assert not bad, f"{what}: wrong Arrow types:\n  " + "\n  ".join(bad)
    assert not schema.field("id").nullable, f"{what}: required column id is nullable"
    assert schema.field("c_int").nullable, f"{what}: optional column c_int is not nullable"


def test_result_arrow_types(pyi_conn):
    got = run(pyi_conn, f"SELECT * FROM {NS}.all_types WHERE id < 5")
    check_all_types_schema(got.schema, "SELECT * result")


def test_nested_arrow_types(pyi_conn):
    s = run(pyi_conn, f"SELECT * FROM {NS}.nested LIMIT 1").schema
    assert pa.types.is_struct(s.field("info").type), s
    info = s.field("info").type
    assert [info.field(i).name for i in range(info.num_fields)] == ["vendor", "model", "geo"]
    assert info.field("vendor").type == pa.string()
    assert pa.types.is_struct(info.field("geo").type)
    for name in ("tags", "scores", "points"):
        assert pa.types.is_list(s.field(name).type) or pa.types.is_large_list(s.field(name).type), f"{name}: {s.field(name).type}"
    assert pa.types.is_map(s.field("attrs").type), s.field("attrs").type


def test_nested_paths_match_pyiceberg(pyi_conn, pyi_catalog):
    sql = f"SELECT id, (info).vendor, (info).geo.lat, info.model FROM {NS}.nested WHERE id > 3"
    got = run(pyi_conn, sql)
    assert got.column_names == ["id", "vendor", "lat", "model"], got.schema
    ref = reference(pyi_catalog, "nested", GreaterThan("id", 3), ("id", "info"))
    want = []
    for r in ref.to_pylist():
        info = r["info"]
        geo = info["geo"] if info else None
        want.append({"id": r["id"], "vendor": info and info["vendor"], "lat": geo and geo["lat"],
                     "model": info and info["model"]})
    assert sorted(rows_of(got), key=lambda r: r["id"]) == sorted(want, key=lambda r: r["id"]), sql


# ------------------------------------------------------------------ params
@pytest.mark.parametrize(
    "sql,params,row_filter,cols,keys",
    [
        (f"SELECT id, label FROM {NS}.snapshots WHERE id > ?", (250,), GreaterThan("id", 250), ("id", "label"), ["id"]),
        (f"SELECT id, label FROM {NS}.snapshots WHERE id > $1 AND batch = $2", (150, 2),
         And(GreaterThan("id", 150), EqualTo("batch", 2)), ("id", "label"), ["id"]),
        (f"SELECT tenant, id, name FROM {NS}.keyed WHERE tenant = ?", ("t2",), EqualTo("tenant", "t2"),
         ("tenant", "id", "name"), ["tenant", "id"]),
        (f"SELECT id, c_double FROM {NS}.all_types WHERE c_double BETWEEN ? AND ?", (-50.0, 75.5),
         And(GreaterThanOrEqual("c_double", -50.0), LessThanOrEqual("c_double", 75.5)), ("id", "c_double"), ["id"]),
    ],
    ids=["qmark_int", "dollar_two_params", "qmark_string", "qmark_double_between"],
)
def test_parameter_binding(pyi_conn, pyi_catalog, sql, params, row_filter, cols, keys):
    table = sql.split(f"{NS}.")[1].split()[0]
    got = run(pyi_conn, sql, params)
    assert_same_rows(got, reference(pyi_catalog, table, row_filter, cols), keys, f"{sql} {params}")


def test_parameter_rebinding_same_statement(pyi_conn, pyi_catalog):
    """The same prepared SQL executed with different parameters."""
    sql = f"SELECT id FROM {NS}.snapshots WHERE id < ?"
    cur = pyi_conn.cursor()
    try:
        for bound in (5, 120, 0):
            cur.execute(sql, (bound,))
            got = cur.fetch_arrow_table()
            assert sorted(got.column("id").to_pylist()) == list(range(bound)), f"{sql} [{bound}]"
    finally:
        cur.close()


# ------------------------------------------------------------------ metadata
def test_get_objects(pyi_conn, pyi_catalog):
    objs = pyi_conn.adbc_get_objects(depth="all").read_all().to_pylist()
    catalogs = {c["catalog_name"]: c for c in objs}
    assert make_fixtures.CATALOG_NAME in catalogs, f"catalogs: {list(catalogs)}"
    schemas = {s["db_schema_name"]: s for s in catalogs["default"]["catalog_db_schemas"] or []}
    assert NS in schemas, f"namespaces in catalog default: {list(schemas)}"
    tables = {t["table_name"]: t for t in schemas[NS]["db_schema_tables"] or []}
    assert sorted(tables) == sorted(make_fixtures.EXPECTED["tables"])
    for name, t in tables.items():
        assert t["table_type"].upper() == "TABLE", f"{name}: table_type {t['table_type']}"
        want_cols = [f.name for f in pyi_catalog.load_table(f"{NS}.{name}").schema().fields]
        cols = sorted(t["table_columns"] or [], key=lambda c: c["ordinal_position"])
        assert [c["column_name"] for c in cols] == want_cols, f"{NS}.{name} columns"
        assert [c["ordinal_position"] for c in cols] == list(range(1, len(want_cols) + 1)), f"{NS}.{name} ordinals"


def test_get_objects_filters(pyi_conn):
    objs = pyi_conn.adbc_get_objects(
        depth="tables", catalog_filter="default", db_schema_filter=NS, table_name_filter="snap%"
    ).read_all().to_pylist()
    names = [
        t["table_name"]
        for c in objs
        for s in c["catalog_db_schemas"] or []
        for t in s["db_schema_tables"] or []
    ]
    assert names == ["snapshots"], names


def test_get_table_schema(pyi_conn):
    schema = pyi_conn.adbc_get_table_schema("all_types", catalog_filter="default", db_schema_filter=NS)
    check_all_types_schema(schema, "adbc_get_table_schema(all_types)")
    keyed = pyi_conn.adbc_get_table_schema("keyed", catalog_filter="default", db_schema_filter=NS)
    assert keyed.names == ["tenant", "id", "name", "score"]
    assert [str(f.type) for f in keyed] == ["string", "int32", "string", "double"]


def test_get_table_schema_matches_query_schema(pyi_conn):
    for name in make_fixtures.EXPECTED["tables"]:
        meta = pyi_conn.adbc_get_table_schema(name, catalog_filter="default", db_schema_filter=NS)
        result = run(pyi_conn, f"SELECT * FROM {NS}.{name} LIMIT 0").schema
        assert [(f.name, arrow_type_name(f.type)) for f in meta] == [
            (f.name, arrow_type_name(f.type)) for f in result
        ], f"{name}: metadata schema differs from query schema"


def test_get_table_types(pyi_conn):
    types = pyi_conn.adbc_get_table_types()
    assert "TABLE" in [t.upper() for t in types], types


def test_get_info(pyi_conn):
    info = pyi_conn.adbc_get_info()
    assert "lakeflight" in str(info.get("vendor_name", "")).lower(), info
    assert info.get("vendor_version"), info
    assert info.get("vendor_arrow_version"), info
