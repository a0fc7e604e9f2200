#!/usr/bin/env python3
"""Write the TPC-H tables as Apache Iceberg tables with PyIceberg.

    python bench/tpch/make_tpch.py --sf 0.01 --dir DIR [--parts 4] [--overwrite]

Generates the 8 TPC-H tables with tpchgen-cli (PyPI package tpchgen-cli, a
Rust port of dbgen with identical output) as Parquet, split into --parts
files per table, then writes them with PyIceberg into a SqlCatalog named
"default" over SQLite:

    catalog   sqlite:///DIR/catalog.db
    warehouse file://DIR/warehouse
    namespace tpch

Each part is one append (one snapshot, one data file per partition), so
every table of more than one part has several data files. lineitem is
partitioned by year(l_shipdate) and sorted by l_shipdate inside each file
(its sort order says so too); orders is sorted by o_orderdate.

Iceberg types: keys long, small counts int (p_size, ps_availqty,
o_shippriority, l_linenumber), money and quantities decimal(15,2), dates
date, everything else string; every column is required (TPC-H has no
NULLs).

Serve it with
    lakeflight serve --catalog-uri sqlite:///DIR/catalog.db --warehouse file://DIR/warehouse
"""

from __future__ import annotations

import argparse
import glob
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.partitioning import PartitionField, PartitionSpec
from pyiceberg.schema import Schema
from pyiceberg.table.sorting import NullOrder, SortDirection, SortField, SortOrder
from pyiceberg.transforms import IdentityTransform, YearTransform
from pyiceberg.types import DateType, DecimalType, IntegerType, LongType, NestedField, StringType

NAMESPACE = "tpch"
CATALOG_NAME = "default"

L = LongType()
I = IntegerType()  # noqa: E741
D = DecimalType(15, 2)
S = StringType()
DT = DateType()

# (column, Iceberg type) of each table, in TPC-H column order.
COLUMNS: dict[str, list[tuple[str, object]]] = {
    "region": [("r_regionkey", L), ("r_name", S), ("r_comment", S)],
    "nation": [("n_nationkey", L), ("n_name", S), ("n_regionkey", L), ("n_comment", S)],
    "supplier": [
        ("s_suppkey", L), ("s_name", S), ("s_address", S), ("s_nationkey", L),
        ("s_phone", S), ("s_acctbal", D), ("s_comment", S),
    ],
    "customer": [
        ("c_custkey", L), ("c_name", S), ("c_address", S), ("c_nationkey", L),
        ("c_phone", S), ("c_acctbal", D), ("c_mktsegment", S), ("c_comment", S),
    ],
    "part": [
        ("p_partkey", L), ("p_name", S), ("p_mfgr", S), ("p_brand", S), ("p_type", S),
        ("p_size", I), ("p_container", S), ("p_retailprice", D), ("p_comment", S),
    ],
    "partsupp": [
        ("ps_partkey", L), ("ps_suppkey", L), ("ps_availqty", I), ("ps_supplycost", D), ("ps_comment", S),
    ],
    "orders": [
        ("o_orderkey", L), ("o_custkey", L), ("o_orderstatus", S), ("o_totalprice", D),
        ("o_orderdate", DT), ("o_orderpriority", S), ("o_clerk", S), ("o_shippriority", I),
        ("o_comment", S),
    ],
    "lineitem": [
        ("l_orderkey", L), ("l_partkey", L), ("l_suppkey", L), ("l_linenumber", I),
        ("l_quantity", D), ("l_extendedprice", D), ("l_discount", D), ("l_tax", D),
        ("l_returnflag", S), ("l_linestatus", S), ("l_shipdate", DT), ("l_commitdate", DT),
        ("l_receiptdate", DT), ("l_shipinstruct", S), ("l_shipmode", S), ("l_comment", S),
    ],
}
TABLES = list(COLUMNS)

# Sort key inside each written file.
SORT_BY = {"lineitem": "l_shipdate", "orders": "o_orderdate"}


def schema_of(table: str) -> Schema:
    return Schema(*[NestedField(i + 1, name, typ, required=True) for i, (name, typ) in enumerate(COLUMNS[table])])


def spec_of(table: str, schema: Schema) -> PartitionSpec:
    if table == "lineitem":
        src = schema.find_field("l_shipdate").field_id
        return PartitionSpec(PartitionField(source_id=src, field_id=1000, transform=YearTransform(), name="l_shipdate_year"))
    return PartitionSpec()


def sort_order_of(table: str, schema: Schema) -> SortOrder:
    col = SORT_BY.get(table)
    if col is None:
        return SortOrder()
    return SortOrder(
        SortField(
            source_id=schema.find_field(col).field_id,
            transform=IdentityTransform(),
            direction=SortDirection.ASC,
            null_order=NullOrder.NULLS_FIRST,
        )
    )


def catalog_for(directory: str) -> SqlCatalog:
    directory = os.path.abspath(directory)
    return SqlCatalog(CATALOG_NAME, uri=f"sqlite:///{directory}/catalog.db", warehouse=f"file://{directory}/warehouse")


def tpchgen_binary() -> str:
    """tpchgen-cli next to this interpreter (a venv's bin/), else on PATH."""
    here = Path(sys.executable).parent / "tpchgen-cli"
    if here.exists():
        return str(here)
    found = shutil.which("tpchgen-cli")
    if found is None:
        raise SystemExit("tpchgen-cli not found: pip install tpchgen-cli==4.0.0 (clients/python/requirements.txt)")
    return found


def generate_parquet(sf: float, out: str, parts: int) -> None:
    argv = [tpchgen_binary(), "parquet", "-s", _fmt_sf(sf), "-o", out, "-q", "--parts", str(parts)]
    p = subprocess.run(argv, capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed (exit {p.returncode}):\n{p.stdout}\n{p.stderr}")


def _fmt_sf(sf: float) -> str:
    return str(int(sf)) if float(sf).is_integer() else repr(float(sf))


def part_files(gen_dir: str, table: str) -> list[str]:
    files = glob.glob(os.path.join(gen_dir, table, f"{table}.*.parquet"))
    files += glob.glob(os.path.join(gen_dir, f"{table}.parquet"))

    def part_no(f: str) -> int:
        bits = os.path.basename(f).split(".")
        return int(bits[1]) if len(bits) == 3 and bits[1].isdigit() else 0

    return sorted(files, key=part_no)


def to_iceberg_arrow(t: pa.Table, schema: Schema) -> pa.Table:
    """Cast tpchgen's Arrow (string_view, nullable flags) to the Arrow schema
    of the Iceberg table."""
    target = schema.as_arrow()
    return t.select(target.names).cast(target)


def write_all(directory: str, sf: float = 0.01, parts: int = 4, overwrite: bool = False, log=None) -> SqlCatalog:
    """Generate and write every table; returns the catalog."""
    directory = os.path.abspath(directory)
    os.makedirs(directory, exist_ok=True)
    db = os.path.join(directory, "catalog.db")
    wh = os.path.join(directory, "warehouse")
    if os.path.exists(db) or os.path.exists(wh):
        if not overwrite:
            raise SystemExit(f"{directory} already holds catalog.db or warehouse/ (use --overwrite)")
        if os.path.exists(db):
            os.remove(db)
        shutil.rmtree(wh, ignore_errors=True)
    os.makedirs(wh, exist_ok=True)
    parts = max(1, int(parts))

    cat = catalog_for(directory)
    cat.create_namespace(NAMESPACE)
    with tempfile.TemporaryDirectory(prefix="tpchgen-", dir=directory) as gen:
        t0 = time.monotonic()
        generate_parquet(sf, gen, parts)
        if log:
            log(f"tpchgen-cli sf={_fmt_sf(sf)} parts={parts}: {time.monotonic() - t0:.1f}s")
        for table in TABLES:
            t0 = time.monotonic()
            schema = schema_of(table)
            tbl = cat.create_table(
                f"{NAMESPACE}.{table}",
                schema=schema,
                partition_spec=spec_of(table, schema),
                sort_order=sort_order_of(table, schema),
            )
            rows = 0
            files = part_files(gen, table)
            if not files:
                raise SystemExit(f"tpchgen-cli wrote no file for {table} in {gen}")
            for f in files:
                data = to_iceberg_arrow(pq.read_table(f), tbl.schema())
                if table in SORT_BY:
                    data = data.sort_by(SORT_BY[table])
                if data.num_rows:
                    tbl.append(data)
                rows += data.num_rows
            if log:
                log(f"{NAMESPACE}.{table}: {rows} rows in {len(files)} appends, {time.monotonic() - t0:.1f}s")
    return cat


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sf", type=float, default=0.01, help="TPC-H scale factor (default 0.01)")
    ap.add_argument("--dir", required=True, help="folder for catalog.db and warehouse/")
    ap.add_argument("--parts", type=int, default=4, help="files (appends) per table (default 4)")
    ap.add_argument("--overwrite", action="store_true", help="replace an existing catalog.db and warehouse/")
    args = ap.parse_args(argv)
    t0 = time.monotonic()
    write_all(args.dir, args.sf, args.parts, args.overwrite, log=lambda m: print(m, file=sys.stderr))
    d = os.path.abspath(args.dir)
    print(f"catalog sqlite:///{d}/catalog.db, warehouse file://{d}/warehouse, namespace {NAMESPACE} "
          f"({time.monotonic() - t0:.1f}s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
