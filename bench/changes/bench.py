#!/usr/bin/env python3
"""Cost of reading one snapshot's changes against reading the files it
touched, on tables of 1,000 and 5,000 data files.

    .venv/bin/python bench/changes/bench.py --dir /tmp/changesbench [--rev HEAD]

Each table (PyIceberg, partitioned by identity(k), one data file per k) gets
one more commit that touches 3 files: an append of 3 new partitions. Through
lakeflight over ADBC, in the same run:

  changes  SELECT * FROM table_changes('bench.tN', P, S)       -- S's changes
  files    SELECT * FROM bench.tN FOR VERSION AS OF S WHERE k IN (the 3 new k)

The second reads exactly the 3 files (partition pruning). Target: changes at
most 2x files, whatever the table's size. Writes a section of
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import adbc_driver_flightsql.dbapi as flightsql
import pyarrow as pa
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.partitioning import PartitionField, PartitionSpec
from pyiceberg.schema import Schema
from pyiceberg.transforms import IdentityTransform
from pyiceberg.types import DoubleType, LongType, NestedField, StringType

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "bench" / "tpch"))
import bench as tpch_bench  # noqa: E402  (build_rev, log, machine load)

SECTION = "## Change reads"
ROWS_PER_FILE = 2000
SCHEMA = Schema(
    NestedField(1, "id", LongType(), required=True),
    NestedField(2, "k", LongType(), required=True),
    NestedField(3, "v", StringType(), required=False),
    NestedField(4, "x", DoubleType(), required=False),
    identifier_field_ids=[1],
)


def batch(ks: range) -> pa.Table:
    n = len(ks) * ROWS_PER_FILE
    k = [kk for kk in ks for _ in range(ROWS_PER_FILE)]
    base = ks.start * ROWS_PER_FILE
    return pa.table({
        "id": pa.array(range(base, base + n), pa.int64()),
        "k": pa.array(k, pa.int64()),
        "v": pa.array([f"v{i % 977}" for i in range(n)]),
        "x": pa.array([i * 0.5 for i in range(n)], pa.float64()),
    }, schema=pa.schema([pa.field("id", pa.int64(), False), pa.field("k", pa.int64(), False),
                         pa.field("v", pa.string()), pa.field("x", pa.float64())]))


def ensure_table(cat: SqlCatalog, files: int) -> tuple[int, int, list[int]]:
    """Returns (parent snapshot, snapshot touching 3 files, the 3 new k)."""
    name = f"bench.t{files}"
    spec = PartitionSpec(PartitionField(2, 1000, IdentityTransform(), "k"))
    try:
        t = cat.load_table(name)
    except Exception:
        t = cat.create_table(name, SCHEMA, partition_spec=spec)
        start = time.monotonic()
        for lo in range(0, files, 500):
            t.append(batch(range(lo, min(files, lo + 500))))
        t.append(batch(range(files, files + 3)))
        tpch_bench.log(f"{name}: {files + 3} files written in {time.monotonic() - start:.1f}s")
        t = cat.load_table(name)
    s = t.current_snapshot()
    return s.parent_snapshot_id, s.snapshot_id, [files, files + 1, files + 2]


def timed(cur, sql: str, runs: int) -> tuple[float, int]:
    cur.execute(sql)
    rows = cur.fetch_arrow_table().num_rows  # warm-up
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        cur.execute(sql)
        rows = cur.fetch_arrow_table().num_rows
        times.append(time.perf_counter() - start)
    return statistics.median(times), rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--sizes", default="1000,5000", help="data files of the tables (default 1000,5000)")
    ap.add_argument("--runs", type=int, default=9)
    ap.add_argument("--rev", default=None, help="build lakeflight from this git revision in a clean clone")
    ap.add_argument("--lakeflight-bin", default=str(REPO / "bin" / "lakeflight"))
    ap.add_argument("--out", default=str(REPO / "docs" / "benchmarks.md"))
    args = ap.parse_args()
    d = Path(args.dir)
    d.mkdir(parents=True, exist_ok=True)
    cat = SqlCatalog("default", uri=f"sqlite:///{d}/catalog.db", warehouse=f"file://{d}/warehouse")
    if ("bench",) not in cat.list_namespaces():
        cat.create_namespace("bench")
    sizes = [int(s) for s in args.sizes.split(",")]
    tables = {n: ensure_table(cat, n) for n in sizes}
    binary = tpch_bench.build_rev(args.rev, d) if args.rev else args.lakeflight_bin
    rev = subprocess.run(["git", "rev-parse", "--short=12", args.rev or "HEAD"], cwd=REPO, capture_output=True, text=True).stdout.strip()
    proc = subprocess.Popen([binary, "serve", "--catalog-uri", f"sqlite:///{d}/catalog.db", "--warehouse", f"file://{d}/warehouse",
                             "--listen", "127.0.0.1:0"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    uri = None
    for line in proc.stdout:
        if "listening on" in line:
            uri = line.split("listening on ")[1].split()[0]
            break
    results = []
    try:
        with flightsql.connect(uri) as conn:
            cur = conn.cursor()
            for n, (parent, snap, ks) in tables.items():
                ch_t, ch_rows = timed(cur, f"SELECT * FROM table_changes('bench.t{n}', {parent}, {snap})", args.runs)
                f_t, f_rows = timed(cur, f"SELECT * FROM bench.t{n} FOR VERSION AS OF {snap} WHERE k IN ({', '.join(map(str, ks))})",
                                    args.runs)
                results.append((n, ch_t, ch_rows, f_t, f_rows))
                tpch_bench.log(f"{n} files: changes {ch_t * 1000:.1f} ms ({ch_rows} rows), the 3 files {f_t * 1000:.1f} ms "
                               f"({f_rows} rows): {ch_t / f_t:.2f}x")
            cur.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    load = os.getloadavg()[0]
    lines = [SECTION, "",
             f"One snapshot that appended 3 files (3 new partitions of {ROWS_PER_FILE:,} rows) on tables of "
             f"{', '.join(f'{n:,}' for n in sizes)} data files: `table_changes` of that snapshot against a query reading "
             f"exactly those 3 files, both through lakeflight over ADBC (median of {args.runs} runs after a warm-up), "
             f"at `{rev}`, load {load:.1f}. Command: `.venv/bin/python bench/changes/bench.py --dir DIR --rev HEAD`. "
             "Target: at most 2x, whatever the table's size.", "",
             "| table files | changes ms | rows | the 3 files ms | rows | ratio | target |", "|---|---|---|---|---|---|---|"]
    for n, ch_t, ch_rows, f_t, f_rows in results:
        lines.append(f"| {n:,} | {ch_t * 1000:.1f} | {ch_rows:,} | {f_t * 1000:.1f} | {f_rows:,} | {ch_t / f_t:.2f} | "
                     f"{'met' if ch_t <= 2 * f_t else 'not met'} |")
    text = "\n".join(lines) + "\n"
    out = Path(args.out)
    old = out.read_text() if out.exists() else "# Benchmarks\n"
    parts = old.split("\n" + SECTION)
    if len(parts) > 1:
        rest = parts[1].split("\n## ", 1)
        old = parts[0] + ("\n## " + rest[1] if len(rest) > 1 else "\n")
    out.write_text(old.rstrip("\n") + "\n\n" + text)
    tpch_bench.log(f"report {out}")


if __name__ == "__main__":
    main()
