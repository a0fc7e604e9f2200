#!/usr/bin/env python3
"""Check the differential corpus itself: run every query in PostgreSQL and in
DuckDB over the same data and report where they disagree. A query that
PostgreSQL and DuckDB answer differently (or that either rejects) does not
belong in the corpus, because lakeflight follows PostgreSQL and the tests
compare it with DuckDB. Not part of the test run; use it after editing a
corpus file:

    .venv/bin/python clients/python/corpus/check_postgres.py [--lakeflight-bin bin/lakeflight] [NAME_REGEX]

It writes the demo warehouse (`lakeflight demo --events 50000`, the size the
suite's demo server uses) and TPC-H SF 0.01 (bench/tpch/make_tpch.py) into a
temp folder, copies the tables from PyIceberg's scans into DuckDB
(test_differential.duckdb_over) and into a throwaway PostgreSQL cluster
(tests/pgcluster.py; C collation, TimeZone UTC), then compares the two
answers with the suite's own comparison (test_differential.compare_rows).
Structs become composite types in PostgreSQL; map columns are left out.
"""

from __future__ import annotations

import argparse
import io
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent.parent
sys.path.insert(0, str(REPO / "clients" / "python" / "tests"))
sys.path.insert(0, str(REPO / "bench" / "tpch"))

import pyarrow as pa  # noqa: E402
import pyarrow.csv as pacsv  # noqa: E402
from pyiceberg.catalog.sql import SqlCatalog  # noqa: E402

import make_tpch  # noqa: E402
import pgcluster  # noqa: E402
import test_differential as td  # noqa: E402


_struct_field_types: dict[tuple[str, str], str] = {}  # (composite type, field) -> field type


def pg_type(t: pa.DataType, namespace: str, path: str, cur) -> str | None:
    """The PostgreSQL type for an Arrow type (creating composite types for
    structs), or None for a column to leave out."""
    if pa.types.is_boolean(t):
        return "boolean"
    if pa.types.is_int8(t) or pa.types.is_int16(t):
        return "smallint"
    if pa.types.is_int32(t):
        return "integer"
    if pa.types.is_int64(t):
        return "bigint"
    if pa.types.is_float32(t):
        return "real"
    if pa.types.is_float64(t):
        return "double precision"
    if pa.types.is_decimal(t):
        return f"numeric({t.precision},{t.scale})"
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return "text"
    if pa.types.is_date32(t):
        return "date"
    if pa.types.is_timestamp(t):
        return "timestamptz" if t.tz else "timestamp"
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        inner = pg_type(t.value_type, namespace, path + "_el", cur)
        return None if inner is None else inner + "[]"
    if pa.types.is_struct(t):
        fields = []
        name = f"{namespace}.{path}_t"
        for f in t:
            ft = pg_type(f.type, namespace, f"{path}_{f.name}", cur)
            if ft is None:
                return None
            fields.append(f'"{f.name}" {ft}')
            _struct_field_types[(name, f.name)] = ft
        cur.execute(f"CREATE TYPE {name} AS ({', '.join(fields)})")
        return name
    return None  # maps and anything else: not loaded


def sql_literal(v, t: pa.DataType, typ: str) -> str:
    from psycopg2.extensions import adapt

    if v is None:
        return f"NULL::{typ}"
    if pa.types.is_struct(t):
        parts = []
        for f in t:
            sub = _struct_field_types[(typ, f.name)]
            parts.append(sql_literal(v.get(f.name), f.type, sub))
        return f"ROW({', '.join(parts)})::{typ}"
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        el = typ[:-2]
        return f"ARRAY[{', '.join(sql_literal(x, t.value_type, el) for x in v)}]::{typ}"
    return adapt(v).getquoted().decode() + f"::{typ}"


def load_into_postgres(conn, namespace: str, name: str, data: pa.Table) -> None:
    cur = conn.cursor()
    cur.execute(f"CREATE SCHEMA IF NOT EXISTS {namespace}")
    cols, types, fields = [], [], []
    for f in data.schema:
        typ = pg_type(f.type, namespace, f"{name}_{f.name}", cur)
        if typ is None:
            continue
        cols.append(f.name)
        types.append(typ)
        fields.append(f)
    cur.execute(f"CREATE TABLE {namespace}.{name} ({', '.join(f'{c} {t}' for c, t in zip(cols, types))})")
    data = data.select(cols)
    nested = any(pa.types.is_struct(f.type) or pa.types.is_list(f.type) for f in fields)
    if not nested:
        buf = io.BytesIO()
        pacsv.write_csv(data, buf, pacsv.WriteOptions(include_header=False))
        buf.seek(0)
        cur.copy_expert(f"COPY {namespace}.{name} FROM STDIN WITH (FORMAT csv)", buf)
        return
    rows = data.to_pylist()
    for i in range(0, len(rows), 500):
        values = ",\n".join(
            "(" + ", ".join(sql_literal(r[f.name], f.type, t) for f, t in zip(fields, types)) + ")" for r in rows[i : i + 500]
        )
        cur.execute(f"INSERT INTO {namespace}.{name} VALUES {values}")


def pg_rows(conn, sql: str) -> list[tuple]:
    cur = conn.cursor()
    cur.execute(sql)
    return [tuple(td.canon(v) for v in r) for r in cur.fetchall()]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lakeflight-bin", default=str(REPO / "bin" / "lakeflight"))
    ap.add_argument("--events", default="50000")
    ap.add_argument("pattern", nargs="?", default="", help="only queries whose CORPUS:NAME matches this regex")
    args = ap.parse_args()

    queries = [q for q in td.all_queries() if re.search(args.pattern, q.id)]
    tmp = Path(tempfile.mkdtemp(prefix="corpus-check-"))
    t0 = time.monotonic()
    subprocess.run([args.lakeflight_bin, "demo", "--warehouse", str(tmp / "demo"), "--events", args.events], check=True,
                   capture_output=True)
    demo_cat = SqlCatalog("default", uri=f"sqlite:///{tmp}/demo/catalog.db", warehouse=f"file://{tmp}/demo/warehouse")
    tpch_cat = make_tpch.write_all(str(tmp / "tpch"), sf=0.01, parts=4)
    duck = td.duckdb_over(demo_cat, "mall")
    td.duckdb_over(tpch_cat, "tpch", duck)

    cluster = pgcluster.PgCluster.create()
    try:
        conn = cluster.connect()
        conn.cursor().execute("SET TimeZone = 'UTC'")
        for cat, ns in ((demo_cat, "mall"), (tpch_cat, "tpch")):
            for ident in cat.list_tables(ns):
                load_into_postgres(conn, ns, ident[-1], cat.load_table(ident).scan().to_arrow())
        conn.cursor().execute("ANALYZE")
        print(f"loaded in {time.monotonic() - t0:.1f}s ({cluster.version})", file=sys.stderr)

        bad = 0
        for q in queries:
            try:
                want = td.table_rows(duck.sql(q.sql).to_arrow_table())
            except Exception as e:  # noqa: BLE001
                print(f"DUCKDB-ERROR {q.id}: {' '.join(str(e).split())[:300]}")
                bad += 1
                continue
            t = time.monotonic()
            try:
                got = pg_rows(conn, q.sql)
            except Exception as e:  # noqa: BLE001
                print(f"PG-ERROR {q.id}: {' '.join(str(e).split())[:300]}")
                bad += 1
                continue
            el = time.monotonic() - t
            reason = td.compare_rows(got, want, td.has_top_level_order_by(q.sql), who=("postgres", "duckdb"))
            if reason is not None:
                print(f"DIFF {q.id}: {reason}")
                bad += 1
            elif el > 5:
                print(f"slow in postgres ({el:.1f}s): {q.id}")
        print(f"{len(queries) - bad} of {len(queries)} queries agree between PostgreSQL and DuckDB "
              f"({time.monotonic() - t0:.1f}s)")
        return 1 if bad else 0
    finally:
        cluster.stop()
        duck.close()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
