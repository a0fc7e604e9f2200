#!/usr/bin/env python3
"""Write lakeflight interop fixtures with PyIceberg (not with lakeflight).

    python make_fixtures.py --dir DIR

creates DIR/catalog.db, a PyIceberg SqlCatalog named "default" over SQLite
(uri sqlite:///DIR/catalog.db, warehouse file://DIR/warehouse), with the
namespace ``pyi`` and these tables (all data deterministic, ~12k rows total):

pyi.all_types     every primitive Iceberg type PyIceberg writes, with NULLs
                  (boolean, int, long, float, double, decimal(9,2),
                  decimal(38,10), date, time, timestamp, timestamptz, string,
                  uuid, binary, fixed(16)); 200 rows, id 0..199; every column
                  but id is NULL when id % 7 == 3.
pyi.events        partitioned by day(ts) and identity(category); 10 days x
                  1000 rows; 3 categories.
pyi.snapshots     three appends (three snapshots) of 100 rows each; batch 1..3.
pyi.keyed         identifier fields (tenant, id): a composite primary key;
                  50 rows.
pyi.nested        struct (with a nested struct), list<long>, list<struct>,
                  map<string,long>, NULLs inside and outside; 30 rows.
pyi.empty         a schema, no snapshot, no rows.

The expected values the tests compare against are computed from these same
functions (see EXPECTED below) or from PyIceberg's own scans.
"""

from __future__ import annotations

import argparse
import datetime as dt
import decimal
import os
import shutil
import sys
import uuid

import pyarrow as pa
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.partitioning import PartitionField, PartitionSpec
from pyiceberg.schema import Schema
from pyiceberg.transforms import DayTransform, IdentityTransform
from pyiceberg.types import (
    BinaryType,
    BooleanType,
    DateType,
    DecimalType,
    DoubleType,
    FixedType,
    FloatType,
    IntegerType,
    ListType,
    LongType,
    MapType,
    NestedField,
    StringType,
    StructType,
    TimestampType,
    TimestamptzType,
    TimeType,
    UUIDType,
)

NAMESPACE = "pyi"
CATALOG_NAME = "default"

# Facts about the fixtures that checkers (JDBC, Node, pytest) assert on.
EXPECTED = {
    "tables": ["all_types", "events", "snapshots", "keyed", "nested", "empty"],
    "row_counts": {
        "all_types": 200,
        "events": 10_000,
        "snapshots": 300,
        "keyed": 50,
        "nested": 30,
        "empty": 0,
    },
    "snapshot_count": {"snapshots": 3},
    "primary_key": {"keyed": ["tenant", "id"]},
}

# The tables the PostgreSQL-catalog tests have PyIceberg write into PostgreSQL.
POSTGRES_TABLES = ["all_types", "events", "keyed", "snapshots"]

BASE_TS = dt.datetime(2024, 3, 1, 0, 0, 0)


def catalog_for(directory: str) -> SqlCatalog:
    directory = os.path.abspath(directory)
    return SqlCatalog(
        CATALOG_NAME,
        uri=f"sqlite:///{directory}/catalog.db",
        warehouse=f"file://{directory}/warehouse",
    )


def sql_catalog(uri: str, warehouse: str) -> SqlCatalog:
    """A SqlCatalog named CATALOG_NAME on any SQLAlchemy URI, for example
    postgresql+psycopg2://user:pw@127.0.0.1:5432/db (the PostgreSQL tests)."""
    return SqlCatalog(CATALOG_NAME, uri=uri, warehouse=warehouse)


# ---------------------------------------------------------------- all_types
ALL_TYPES_SCHEMA = Schema(
    NestedField(1, "id", LongType(), required=True),
    NestedField(2, "c_bool", BooleanType()),
    NestedField(3, "c_int", IntegerType()),
    NestedField(4, "c_long", LongType()),
    NestedField(5, "c_float", FloatType()),
    NestedField(6, "c_double", DoubleType()),
    NestedField(7, "c_dec_9_2", DecimalType(9, 2)),
    NestedField(8, "c_dec_38_10", DecimalType(38, 10)),
    NestedField(9, "c_date", DateType()),
    NestedField(10, "c_time", TimeType()),
    NestedField(11, "c_ts", TimestampType()),
    NestedField(12, "c_tstz", TimestamptzType()),
    NestedField(13, "c_string", StringType()),
    NestedField(14, "c_uuid", UUIDType()),
    NestedField(15, "c_binary", BinaryType()),
    NestedField(16, "c_fixed", FixedType(16)),
)

WORDS = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa"]


def all_types_rows(n: int = 200) -> list[dict]:
    rows = []
    for i in range(n):
        if i % 7 == 3:
            rows.append({"id": i, **{f.name: None for f in ALL_TYPES_SCHEMA.fields[1:]}})
            continue
        rows.append(
            {
                "id": i,
                "c_bool": i % 2 == 0,
                "c_int": (i * 37) % 1000 - 500,
                "c_long": i * 10_000_000_019 - 1_000_000_000_000,
                "c_float": float(i) / 4.0,  # exact in binary: compares exactly
                "c_double": i * 1.5 - 100.25,
                "c_dec_9_2": decimal.Decimal(i * 12345 - 1_000_000).scaleb(-2),
                "c_dec_38_10": decimal.Decimal(f"{i}12345678901234567.{i:04d}000123"),
                "c_date": dt.date(2024, 1, 1) + dt.timedelta(days=i),
                "c_time": dt.time((i * 7) % 24, (i * 13) % 60, i % 60, (i * 1001) % 1_000_000),
                "c_ts": BASE_TS + dt.timedelta(hours=i, microseconds=i),
                "c_tstz": (BASE_TS + dt.timedelta(minutes=17 * i)).replace(tzinfo=dt.timezone.utc),
                "c_string": f"{WORDS[i % len(WORDS)]}-{i:03d}" + ("_pct%" if i % 11 == 0 else ""),
                "c_uuid": uuid.UUID(int=(i * 0x9E3779B97F4A7C15) % (1 << 128)).bytes,
                "c_binary": bytes([i % 256, (i * 3) % 256, 0, 255]) * (i % 3 + 1),
                "c_fixed": bytes((i + k) % 256 for k in range(16)),
            }
        )
    return rows


# ---------------------------------------------------------------- events
EVENTS_SCHEMA = Schema(
    NestedField(1, "event_id", LongType(), required=True),
    NestedField(2, "ts", TimestampType(), required=True),
    NestedField(3, "category", StringType(), required=True),
    NestedField(4, "user_id", IntegerType()),
    NestedField(5, "amount", DoubleType()),
    NestedField(6, "note", StringType()),
)
EVENTS_SPEC = PartitionSpec(
    PartitionField(source_id=2, field_id=1000, transform=DayTransform(), name="ts_day"),
    PartitionField(source_id=3, field_id=1001, transform=IdentityTransform(), name="category"),
)
CATEGORIES = ["click", "view", "buy"]


def events_rows(days: int = 10, per_day: int = 1000) -> list[dict]:
    rows = []
    for d in range(days):
        for j in range(per_day):
            eid = d * per_day + j
            rows.append(
                {
                    "event_id": eid,
                    "ts": BASE_TS + dt.timedelta(days=d, seconds=j * 86),
                    "category": CATEGORIES[(eid * 7) % 3],
                    "user_id": None if eid % 13 == 0 else eid % 97,
                    "amount": None if eid % 17 == 0 else round((eid % 1000) * 0.25, 2),
                    "note": None if eid % 5 else f"note {eid}",
                }
            )
    return rows


# ---------------------------------------------------------------- snapshots
SNAPSHOTS_SCHEMA = Schema(
    NestedField(1, "id", LongType(), required=True),
    NestedField(2, "batch", IntegerType(), required=True),
    NestedField(3, "label", StringType()),
)


def snapshot_batch(batch: int, n: int = 100) -> list[dict]:
    return [{"id": (batch - 1) * n + k, "batch": batch, "label": f"b{batch}-{k}"} for k in range(n)]


# ---------------------------------------------------------------- keyed
KEYED_SCHEMA = Schema(
    NestedField(1, "tenant", StringType(), required=True),
    NestedField(2, "id", IntegerType(), required=True),
    NestedField(3, "name", StringType()),
    NestedField(4, "score", DoubleType()),
    identifier_field_ids=[1, 2],
)


def keyed_rows(n: int = 50) -> list[dict]:
    return [
        {"tenant": f"t{i % 5}", "id": i, "name": f"name-{i}", "score": None if i % 9 == 0 else i * 2.5}
        for i in range(n)
    ]


# ---------------------------------------------------------------- nested
NESTED_SCHEMA = Schema(
    NestedField(1, "id", LongType(), required=True),
    NestedField(
        2,
        "info",
        StructType(
            NestedField(3, "vendor", StringType()),
            NestedField(4, "model", StringType()),
            NestedField(
                5,
                "geo",
                StructType(
                    NestedField(6, "lat", DoubleType()),
                    NestedField(7, "lon", DoubleType()),
                ),
            ),
        ),
    ),
    NestedField(8, "tags", ListType(element_id=9, element_type=StringType(), element_required=False)),
    NestedField(10, "scores", ListType(element_id=11, element_type=LongType(), element_required=True)),
    NestedField(
        12,
        "attrs",
        MapType(key_id=13, key_type=StringType(), value_id=14, value_type=LongType(), value_required=False),
    ),
    NestedField(
        15,
        "points",
        ListType(
            element_id=16,
            element_type=StructType(NestedField(17, "x", IntegerType()), NestedField(18, "y", IntegerType())),
            element_required=False,
        ),
    ),
)


def nested_rows(n: int = 30) -> list[dict]:
    vendors = ["acme", "globex", "initech"]
    rows = []
    for i in range(n):
        info = None
        if i % 10 != 4:
            info = {
                "vendor": vendors[i % 3] if i % 6 != 5 else None,
                "model": f"m{i}",
                "geo": None if i % 4 == 1 else {"lat": 30.0 + i / 8, "lon": 120.0 - i / 8},
            }
        rows.append(
            {
                "id": i,
                "info": info,
                "tags": None if i % 5 == 2 else [f"tag{i % 3}", None if i % 2 else "x"][: 1 + i % 2],
                "scores": [i, i * 2, i * 3][: i % 4],
                "attrs": None if i % 7 == 6 else [(f"k{j}", None if j == 2 else i * j) for j in range(i % 4)],
                "points": [{"x": i, "y": -i}, None] if i % 3 == 0 else [],
            }
        )
    return rows


# ---------------------------------------------------------------- writing
def arrow_table(table, rows: list[dict]) -> pa.Table:
    # create_table assigns fresh field ids, so build from the table's schema.
    return pa.Table.from_pylist(rows, schema=table.schema().as_arrow())


# Each fixture table: name -> function(catalog) that creates and fills it.
def _write_all_types(cat) -> None:
    t = cat.create_table(f"{NAMESPACE}.all_types", schema=ALL_TYPES_SCHEMA)
    t.append(arrow_table(t, all_types_rows()))


def _write_events(cat) -> None:
    t = cat.create_table(f"{NAMESPACE}.events", schema=EVENTS_SCHEMA, partition_spec=EVENTS_SPEC)
    t.append(arrow_table(t, events_rows()))


def _write_snapshots(cat) -> None:
    t = cat.create_table(f"{NAMESPACE}.snapshots", schema=SNAPSHOTS_SCHEMA)
    for b in (1, 2, 3):
        t.append(arrow_table(t, snapshot_batch(b)))


def _write_keyed(cat) -> None:
    t = cat.create_table(f"{NAMESPACE}.keyed", schema=KEYED_SCHEMA)
    t.append(arrow_table(t, keyed_rows()))


def _write_nested(cat) -> None:
    t = cat.create_table(f"{NAMESPACE}.nested", schema=NESTED_SCHEMA)
    t.append(arrow_table(t, nested_rows()))


def _write_empty(cat) -> None:
    cat.create_table(
        f"{NAMESPACE}.empty",
        schema=Schema(
            NestedField(1, "id", LongType(), required=True),
            NestedField(2, "name", StringType()),
            NestedField(3, "created", TimestamptzType()),
        ),
    )


WRITERS = {
    "all_types": _write_all_types,
    "events": _write_events,
    "snapshots": _write_snapshots,
    "keyed": _write_keyed,
    "nested": _write_nested,
    "empty": _write_empty,
}


def write_tables(cat, names=None) -> None:
    """Create namespace NAMESPACE in `cat` and write the named fixture tables
    (default: all of EXPECTED["tables"]), then check what PyIceberg reads back."""
    names = list(EXPECTED["tables"] if names is None else names)
    cat.create_namespace(NAMESPACE)
    for name in names:
        WRITERS[name](cat)

    # Self-check: what PyIceberg reads back is what the tests will expect.
    for name in names:
        count = EXPECTED["row_counts"][name]
        got = cat.load_table(f"{NAMESPACE}.{name}").scan().to_arrow().num_rows
        if got != count:
            raise SystemExit(f"fixture {name}: wrote {count} rows, read back {got}")
    if "snapshots" in names:
        snaps = len(cat.load_table(f"{NAMESPACE}.snapshots").metadata.snapshots)
        if snaps != EXPECTED["snapshot_count"]["snapshots"]:
            raise SystemExit(f"fixture snapshots: expected 3 snapshots, got {snaps}")


def write_all(directory: str) -> None:
    directory = os.path.abspath(directory)
    if os.path.exists(os.path.join(directory, "catalog.db")):
        os.remove(os.path.join(directory, "catalog.db"))
    shutil.rmtree(os.path.join(directory, "warehouse"), ignore_errors=True)
    os.makedirs(os.path.join(directory, "warehouse"), exist_ok=True)
    write_tables(catalog_for(directory))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dir", required=True, help="output directory (catalog.db and warehouse/ go here)")
    args = ap.parse_args(argv)
    os.makedirs(args.dir, exist_ok=True)
    write_all(args.dir)
    print(f"wrote {NAMESPACE}.* tables to {os.path.abspath(args.dir)}/catalog.db")
    return 0


if __name__ == "__main__":
    sys.exit(main())
