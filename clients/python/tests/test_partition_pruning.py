"""Partition pruning for every Iceberg partition transform.

Tables written by PyIceberg, each partitioned by one transform (identity,
year, month, day, hour, bucket, truncate) of a source column, are queried
over ADBC with predicates on the source column only. For each query:

- the rows equal those pyarrow's own filter keeps from the whole table;
- EXPLAIN ANALYZE reports reading exactly the data files that hold a
  matching row, where the partitioning alone proves every other file holds
  none (data is laid out so that column statistics cannot tell: every file
  of a bucketed or truncated table spans the whole range of the source
  column's other values).
"""

from __future__ import annotations

import datetime as dt
import re

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.partitioning import PartitionField, PartitionSpec
from pyiceberg.schema import Schema
from pyiceberg.transforms import (
    BucketTransform,
    DayTransform,
    HourTransform,
    IdentityTransform,
    MonthTransform,
    TruncateTransform,
    YearTransform,
)
from pyiceberg.types import DateType, LongType, NestedField, StringType, TimestampType

from util import rows_of

NS = "parts"
ROWS = 3000
START = dt.datetime(2023, 11, 20, 5, 30)

SCHEMA = Schema(
    NestedField(1, "id", LongType(), required=False),
    NestedField(2, "ts", TimestampType(), required=False),
    NestedField(3, "d", DateType(), required=False),
    NestedField(4, "s", StringType(), required=False),
    NestedField(5, "n", LongType(), required=False),
    NestedField(6, "k", StringType(), required=False),
)

# table name -> (source field id, transform, rows written): the tables
# with a partition per hour or per day take the first rows only.
SPECS = {
    "by_identity": (6, IdentityTransform(), ROWS),
    "by_year": (2, YearTransform(), ROWS),
    "by_month": (2, MonthTransform(), ROWS),
    "by_day": (2, DayTransform(), 400),
    "by_hour": (2, HourTransform(), 120),
    "by_day_of_date": (3, DayTransform(), 400),
    "by_bucket": (1, BucketTransform(8), ROWS),
    "by_truncate_string": (4, TruncateTransform(2), ROWS),
    "by_truncate_long": (5, TruncateTransform(100), ROWS),
}


def data() -> pa.Table:
    # 3000 rows over ~3 years of timestamps (every 9 hours), ids in order,
    # strings of 20 two-letter prefixes, n spread over 0..2999 out of order,
    # k one of 20 keys.
    ts = [START + dt.timedelta(hours=9 * i) for i in range(ROWS)]
    return pa.table(
        {
            "id": pa.array(range(ROWS), pa.int64()),
            "ts": pa.array(ts, pa.timestamp("us")),
            "d": pa.array([t.date() for t in ts], pa.date32()),
            "s": pa.array([f"{chr(97 + i % 4)}{chr(97 + i % 5)}-{i}" for i in range(ROWS)]),
            "n": pa.array([(i * 7919) % ROWS for i in range(ROWS)], pa.int64()),
            "k": pa.array([f"k{i % 20:02d}" for i in range(ROWS)]),
        }
    )


# (table, SQL predicate, pyarrow filter of the same rows)
CASES = [
    ("by_identity", "k = 'k05'", pc.field("k") == "k05"),
    ("by_identity", "k IN ('k05', 'k11')", pc.field("k").isin(["k05", "k11"])),
    ("by_year", "ts >= TIMESTAMP '2024-01-01 00:00:00' AND ts < TIMESTAMP '2025-01-01 00:00:00'",
     (pc.field("ts") >= dt.datetime(2024, 1, 1)) & (pc.field("ts") < dt.datetime(2025, 1, 1))),
    ("by_month", "ts >= TIMESTAMP '2024-03-01 00:00:00' AND ts < TIMESTAMP '2024-05-01 00:00:00'",
     (pc.field("ts") >= dt.datetime(2024, 3, 1)) & (pc.field("ts") < dt.datetime(2024, 5, 1))),
    ("by_month", "ts > TIMESTAMP '2026-06-15 12:00:00'", pc.field("ts") > dt.datetime(2026, 6, 15, 12)),
    ("by_day", "ts >= TIMESTAMP '2023-12-10 00:00:00' AND ts < TIMESTAMP '2023-12-13 00:00:00'",
     (pc.field("ts") >= dt.datetime(2023, 12, 10)) & (pc.field("ts") < dt.datetime(2023, 12, 13))),
    ("by_hour", "ts = TIMESTAMP '2023-11-22 20:30:00'", pc.field("ts") == dt.datetime(2023, 11, 22, 20, 30)),
    ("by_hour", "ts >= TIMESTAMP '2023-11-22 00:00:00' AND ts < TIMESTAMP '2023-11-23 00:00:00'",
     (pc.field("ts") >= dt.datetime(2023, 11, 22)) & (pc.field("ts") < dt.datetime(2023, 11, 23))),
    ("by_day_of_date", "d BETWEEN DATE '2023-12-01' AND DATE '2023-12-04'",
     (pc.field("d") >= dt.date(2023, 12, 1)) & (pc.field("d") <= dt.date(2023, 12, 4))),
    ("by_bucket", "id = 1234", pc.field("id") == 1234),
    ("by_bucket", "id IN (7, 1234, 2999)", pc.field("id").isin([7, 1234, 2999])),
    ("by_truncate_string", "s = 'cc-1002'", pc.field("s") == "cc-1002"),
    ("by_truncate_string", "s LIKE 'ba%'", pc.starts_with(pc.field("s"), "ba")),
    ("by_truncate_long", "n >= 200 AND n < 400", (pc.field("n") >= 200) & (pc.field("n") < 400)),
]


@pytest.fixture(scope="module")
def parts_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("partitions")
    cat = SqlCatalog("default", uri=f"sqlite:///{d}/catalog.db", warehouse=f"file://{d}/warehouse")
    cat.create_namespace(NS)
    tbl = data()
    for name, (source, transform, rows) in SPECS.items():
        spec = PartitionSpec(PartitionField(source, 1000, transform, "p"))
        t = cat.create_table(f"{NS}.{name}", SCHEMA, partition_spec=spec)
        t.append(tbl.slice(0, rows))
    return d, cat


@pytest.fixture(scope="module")
def parts_conn(parts_dir, lakeflight_bin, start_server, adbc_connect):
    d, _ = parts_dir
    s = start_server("partitions", [lakeflight_bin, "serve", "--catalog-uri", f"sqlite:///{d}/catalog.db",
                                    "--warehouse", f"file://{d}/warehouse", "--listen", "127.0.0.1:0"])
    return adbc_connect(s)


def files_holding(table, flt) -> int:
    """Data files of table holding at least one row flt keeps."""
    count = 0
    for task in table.scan().plan_files():
        path = task.file.file_path.removeprefix("file://")
        if pq.read_table(path).filter(flt).num_rows > 0:
            count += 1
    return count


@pytest.mark.parametrize("name,where,flt", CASES, ids=[f"{c[0]}:{c[1]}" for c in CASES])
def test_partition_transform_prunes_files(parts_dir, parts_conn, name, where, flt):
    _, cat = parts_dir
    table = cat.load_table(f"{NS}.{name}")
    total = len(list(table.scan().plan_files()))
    want_files = files_holding(table, flt)
    assert 0 < want_files < total, (name, want_files, total)

    sql = f"SELECT id, ts, d, s, n, k FROM {NS}.{name} WHERE {where}"
    cur = parts_conn.cursor()
    try:
        cur.execute(sql)
        got = cur.fetch_arrow_table()
        cur.execute("EXPLAIN ANALYZE " + sql)
        plan = cur.fetch_arrow_table().column("plan").to_pylist()
    finally:
        cur.close()
    want = table.scan().to_arrow().filter(flt)
    assert sorted(rows_of(got), key=repr) == sorted(rows_of(want.select(got.column_names)), key=repr), sql

    # Each scan line shows the files the plan kept (after partition and file
    # statistics pruning; every parallel part of the scan repeats it) and
    # then the files that part read.
    planned = [int(m.group(1)) for line in plan if (m := re.search(r"snapshot=\d+ files=(\d+)", line))]
    read = [int(m.group(1)) for line in plan if (m := re.search(r"\bfiles=(\d+) rowgroups=", line))]
    assert planned and read, plan
    assert set(planned) == {want_files} and sum(read) == want_files, (
        f"{sql}: planned {planned} and read {sum(read)} of {total} files; {want_files} hold matching rows\n"
        + "\n".join(plan))
