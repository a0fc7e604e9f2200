#!/usr/bin/env python3
"""Scan benchmarks: does lakeflight read only what a query needs? (issue 4)

    .venv/bin/python bench/scan/bench.py --dir DIR [--sf 1] [--wide-rows 1000000]
        [--plan-files 10000] [--plan-manifests 100] [--runs 3] [--rev HEAD]
        [--out docs/benchmarks.md]

1. Data, written into DIR (namespace `scanbench`, SQLite catalog) by PyIceberg
   when a table is missing, deterministically:
   - `lineitem`: TPC-H lineitem at --sf (tpchgen-cli), partitioned by
     day(l_shipdate), sorted by (l_shipdate, l_orderkey), written in ONE
     append (one snapshot, one manifest, one data file per day: ~2,520 files);
   - `wide`: an id and a struct `rec` of 50 fields (f00..f49, cycling int,
     double, string), --wide-rows rows;
   - `manyfiles`: --plan-files small data files in --plan-manifests
     manifests (one append of files/manifests files each, one file per
     `part` value), for planning.
   An existing table is reused when the parameters it was written with
   (table property `scanbench.params`) match, else the run stops.
2. lakeflight (`lakeflight serve`, loopback, GOMAXPROCS=--threads, its
   Prometheus endpoint on for the storage read counters) against peers in
   the same run: DuckDB over `read_parquet([the table's data files])` and
   PyIceberg's `table.scan(...)`; one warm-up and --runs timed runs per
   engine, alternating engines, the median reported:
   - selective queries on lineitem (one week of l_shipdate; l_orderkey =
     constant): end-to-end times and ratios, lakeflight's bytes read
     (EXPLAIN ANALYZE) against the compressed size of the needed columns'
     chunks in the row groups whose Parquet statistics overlap the filter;
   - one leaf of the 50-field struct against the whole struct (bytes read);
   - full-scan streaming throughput to a pyarrow.flight client;
   - planning on `manyfiles`: GetFlightInfo warm and cold (first after a
     server restart) against PyIceberg's `plan_files()`.
3. Writes (replaces) the section "Scan benchmarks" of --out, leaving the
   rest of the file as it is, and a PNG beside it.

It is a benchmark, not a test: no test suite or CI runs it.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import contextlib
import datetime as dt
import importlib.util
import json
import math
import os
import re
import shlex
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]

# bench/tpch/bench.py is another module named "bench": load it under its own
# name for the server process wrapper, the ADBC client and the timing helpers.
_spec = importlib.util.spec_from_file_location("tpch_bench", REPO / "bench" / "tpch" / "bench.py")
tb = importlib.util.module_from_spec(_spec)
sys.modules["tpch_bench"] = tb
_spec.loader.exec_module(tb)
import make_tpch  # noqa: E402  (bench/tpch, put on sys.path by tpch_bench)

import pyarrow as pa  # noqa: E402
import pyarrow.compute as pc  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

NS = "scanbench"
SECTION_TITLE = "Scan benchmarks: reading only what a query needs"
SECTION_PREFIX = "## Scan benchmarks"

# Targets (issue 4).
T_SELECTIVE_RATIO = 0.5  # lakeflight time <= 0.5 x DuckDB's
T_BYTES_RATIO = 1.1  # bytes read <= 1.1 x the bytes of the matching row groups
T_LEAF_SHARE = 0.05  # one struct leaf <= 5% of the whole struct's bytes
T_STREAM_GBPS = 1.0  # full scan >= 1 GB/s (10^9 bytes/s) to a pyarrow.flight client
T_WARM_PLAN_MS = 10.0  # warm planning under 10 ms
T_COLD_PLAN_SPEEDUP = 10.0  # cold planning >= 10x faster than PyIceberg

WIDE_FIELDS = 50
log = tb.log


# ====================================================================== data
def catalog_for(d: Path):
    return make_tpch.catalog_for(str(d))


@contextlib.contextmanager
def fast_partitioning():
    """PyIceberg 0.12's _determine_partitions filters the whole Arrow table
    once per partition value (O(rows x partitions): 17 s of filtering for SF
    0.05 lineitem by day, so several minutes for SF 1). This stand-in yields the same partitions (same keys,
    the rows of each in input order) from one stable sort and slices, so a
    single append of the whole table stays cheap. Only for the duration of
    the writes; falls back to PyIceberg's own when its internals differ."""
    import pyiceberg.io.pyarrow as pio

    orig = getattr(pio, "_determine_partitions", None)
    needed = ("_TablePartition", "_get_field_from_arrow_table")
    if orig is None or not all(hasattr(pio, n) for n in needed):
        log("PyIceberg internals differ from 0.12: using its own (slow) partition split")
        yield
        return
    from pyiceberg.partitioning import PartitionFieldValue, PartitionKey

    def determine(spec, schema, arrow_table):
        names = [f"_partition_{f.name}" for f in spec.fields]
        cols = []
        for pf in spec.fields:
            src = schema.find_field(pf.source_id)
            full = schema.find_column_name(pf.source_id)
            arr = pio._get_field_from_arrow_table(arrow_table, full)
            cols.append(pf.transform.pyarrow_transform(src.field_type)(arr))
        keys = pa.table(dict(zip(names, cols)))
        order = pc.sort_indices(keys, sort_keys=[(n, "ascending") for n in names])
        keys = keys.take(order)
        data = arrow_table.take(order)
        # Sorted: the groups in order of first appearance are the runs.
        runs = keys.group_by(names, use_threads=False).aggregate([([], "count_all")])
        offset = 0
        for row in runs.to_pylist():
            n = row["count_all"]
            pkey = PartitionKey(
                field_values=[PartitionFieldValue(field=f, value=row[nm]) for f, nm in zip(spec.fields, names)],
                partition_spec=spec,
                schema=schema,
            )
            yield pio._TablePartition(partition_key=pkey, arrow_table_partition=data.slice(offset, n).combine_chunks())
            offset += n

    pio._determine_partitions = determine
    try:
        yield
    finally:
        pio._determine_partitions = orig


@contextlib.contextmanager
def page_indexes():
    """Parquet files written with column and offset indexes (what Spark and
    parquet-mr write by default; PyIceberg has no table property for it, so
    its writer options get write_page_index while the data is written)."""
    import pyiceberg.io.pyarrow as pio

    orig = getattr(pio, "_get_parquet_writer_kwargs", None)
    if orig is None:
        log("PyIceberg internals differ from 0.12: files written without page indexes")
        yield
        return

    def kwargs(props):
        return {**orig(props), "write_page_index": True}

    pio._get_parquet_writer_kwargs = kwargs
    try:
        yield
    finally:
        pio._get_parquet_writer_kwargs = orig


def _table_state(cat, name: str, params: dict) -> str:
    """'ok' (complete, same parameters), 'missing' (absent, or an unfinished
    write: dropped), or raises on different parameters."""
    from pyiceberg.exceptions import NoSuchTableError

    ident = f"{NS}.{name}"
    try:
        tbl = cat.load_table(ident)
    except NoSuchTableError:
        return "missing"
    got = tbl.properties.get("scanbench.params")
    if got is None:
        log(f"{ident} has no scanbench.params (an unfinished write): dropping it")
        cat.purge_table(ident) if hasattr(cat, "purge_table") else cat.drop_table(ident)
        return "missing"
    if json.loads(got) != params:
        raise SystemExit(f"{ident} in this --dir was written with {got}, this run wants {json.dumps(params)}: "
                         f"use another --dir")
    return "ok"


def _finish(tbl, params: dict) -> None:
    with tbl.transaction() as tx:
        tx.set_properties({"scanbench.params": json.dumps(params, sort_keys=True)})


def write_lineitem(cat, d: Path, sf: float) -> None:
    from pyiceberg.partitioning import PartitionField, PartitionSpec
    from pyiceberg.table.sorting import NullOrder, SortDirection, SortField, SortOrder
    from pyiceberg.transforms import DayTransform, IdentityTransform

    schema = make_tpch.schema_of("lineitem")
    ship = schema.find_field("l_shipdate").field_id
    okey = schema.find_field("l_orderkey").field_id
    spec = PartitionSpec(PartitionField(source_id=ship, field_id=1000, transform=DayTransform(), name="l_shipdate_day"))
    order = SortOrder(*[SortField(source_id=s, transform=IdentityTransform(), direction=SortDirection.ASC,
                                  null_order=NullOrder.NULLS_FIRST) for s in (ship, okey)])
    with tempfile.TemporaryDirectory(prefix="tpchgen-", dir=d) as gen:
        t0 = time.monotonic()
        argv = [make_tpch.tpchgen_binary(), "parquet", "-s", make_tpch._fmt_sf(sf), "-T", "lineitem", "-o", gen, "-q"]
        subprocess.run(argv, check=True, capture_output=True)
        files = make_tpch.part_files(gen, "lineitem")
        log(f"tpchgen-cli lineitem SF {make_tpch._fmt_sf(sf)}: {time.monotonic() - t0:.1f}s")
        tbl = cat.create_table(f"{NS}.lineitem", schema=schema, partition_spec=spec, sort_order=order)
        data = pa.concat_tables([make_tpch.to_iceberg_arrow(pq.read_table(f), tbl.schema()) for f in files])
    data = data.sort_by([("l_shipdate", "ascending"), ("l_orderkey", "ascending")])
    t0 = time.monotonic()
    with fast_partitioning():
        tbl.append(data)
    log(f"{NS}.lineitem: {data.num_rows:,} rows in one append, "
        f"{tbl.current_snapshot().summary['added-data-files']} files, {time.monotonic() - t0:.1f}s")


def _mix(ids: pa.Array, j: int) -> pa.Array:
    """A deterministic pseudo-random int64 per id for field j (multiply and
    xorshift; int64 multiplication wraps)."""
    h = pc.multiply(pc.add(ids, 0x9E3779B97F4A7C15 - 2**64 + j * 7919), -7046029254386353131)
    h = pc.bit_wise_xor(h, pc.shift_right(h, 29))
    h = pc.multiply(h, -4658895280553007687)
    return pc.bit_wise_xor(h, pc.shift_right(h, 32))


def wide_schema():
    from pyiceberg.schema import Schema
    from pyiceberg.types import DoubleType, IntegerType, LongType, NestedField, StringType, StructType

    kinds = [IntegerType(), DoubleType(), StringType()]
    leaves = [NestedField(3 + j, f"f{j:02d}", kinds[j % 3], required=False) for j in range(WIDE_FIELDS)]
    return Schema(NestedField(1, "id", LongType(), required=True),
                  NestedField(2, "rec", StructType(*leaves), required=False))


def wide_batch(start: int, n: int, arrow_schema: pa.Schema) -> pa.Table:
    """Rows start..start+n of `wide`: field j has 2^(4 + 7j mod 17) distinct
    values (16 to 1M: some columns dictionary-encode, others do not); ints
    are those values, doubles value/1000 + j, strings 'fNN-' + the value,
    every fifth string field padded to about 40 characters."""
    ids = pa.array(range(start, start + n), pa.int64())
    arrays = []
    for j in range(WIDE_FIELDS):
        bits = 4 + (7 * j) % 17
        v = pc.bit_wise_and(pc.shift_right(_mix(ids, j), 11), (1 << bits) - 1)
        if j % 3 == 0:
            arrays.append(pc.cast(v, pa.int32()))
        elif j % 3 == 1:
            arrays.append(pc.add(pc.divide(pc.cast(v, pa.float64()), 1000.0), float(j)))
        else:
            prefix = f"f{j:02d}-" + ("lorem-ipsum-dolor-sit-amet-" if j % 5 == 2 else "")
            arrays.append(pc.binary_join_element_wise(prefix, pc.cast(v, pa.string()), ""))
    rec_type = arrow_schema.field("rec").type
    fields = list(rec_type)
    arrays = [a.cast(f.type) for a, f in zip(arrays, fields)]
    rec = pa.StructArray.from_arrays(arrays, fields=fields)
    return pa.Table.from_arrays([ids, rec], schema=arrow_schema)


def write_wide(cat, rows: int) -> None:
    schema = wide_schema()
    # 64 MiB of Arrow per file (PyIceberg bin-packs by in-memory size): about
    # 8 files at 1M rows, so that the table has several files to read at once.
    tbl = cat.create_table(f"{NS}.wide", schema=schema,
                           properties={"write.target-file-size-bytes": str(64 * 2**20)})
    t0 = time.monotonic()
    data = wide_batch(0, rows, tbl.schema().as_arrow())
    tbl.append(data)
    log(f"{NS}.wide: {rows:,} rows x {WIDE_FIELDS} struct fields, "
        f"{tbl.current_snapshot().summary['added-data-files']} files, {time.monotonic() - t0:.1f}s")


def write_manyfiles(cat, files: int, manifests: int, rows_per_file: int) -> None:
    """`manifests` appends of files/manifests files each: one file per value
    of the identity partition `part` (0..files-1, append k holds a
    contiguous range), rows_per_file rows per file."""
    from pyiceberg.partitioning import PartitionField, PartitionSpec
    from pyiceberg.schema import Schema
    from pyiceberg.transforms import IdentityTransform
    from pyiceberg.types import DoubleType, IntegerType, LongType, NestedField, StringType

    if files % manifests:
        raise SystemExit(f"--plan-files {files} is not a multiple of --plan-manifests {manifests}")
    per = files // manifests
    schema = Schema(NestedField(1, "id", LongType(), required=True), NestedField(2, "part", IntegerType(), required=True),
                    NestedField(3, "v", DoubleType(), required=False), NestedField(4, "s", StringType(), required=False))
    spec = PartitionSpec(PartitionField(source_id=2, field_id=1000, transform=IdentityTransform(), name="part"))
    # PyIceberg's fast append keeps every earlier manifest and adds one: no
    # merging, so `manifests` appends leave `manifests` manifests.
    tbl = cat.create_table(f"{NS}.manyfiles", schema=schema, partition_spec=spec,
                           properties={"commit.manifest-merge.enabled": "false"})
    target = tbl.schema().as_arrow()
    t0 = time.monotonic()
    n = per * rows_per_file
    for k in range(manifests):
        first = k * n
        ids = pa.array(range(first, first + n), pa.int64())
        part = pc.cast(pc.add(pc.divide(pc.subtract(ids, first), rows_per_file), k * per), pa.int32())
        v = pc.divide(pc.cast(pc.bit_wise_and(_mix(ids, 1), 0xFFFFF), pa.float64()), 7.0)
        s = pc.binary_join_element_wise("row-", pc.cast(ids, pa.string()), "")
        with fast_partitioning():
            tbl.append(pa.Table.from_arrays([ids, part, v, s], schema=target))
        if (k + 1) % 10 == 0 or k + 1 == manifests:
            log(f"{NS}.manyfiles: {k + 1}/{manifests} appends, {time.monotonic() - t0:.0f}s")
    log(f"{NS}.manyfiles: {files:,} files in {manifests} manifests, {time.monotonic() - t0:.1f}s")


def ensure_data(d: Path, args) -> dict[str, float]:
    """Writes the missing tables; returns seconds spent per table written."""
    d.mkdir(parents=True, exist_ok=True)
    (d / "warehouse").mkdir(exist_ok=True)
    cat = catalog_for(d)
    if (NS,) not in cat.list_namespaces():
        cat.create_namespace(NS)
    spent: dict[str, float] = {}
    plan = [
        ("lineitem", {"sf": make_tpch._fmt_sf(args.sf), "partition": "day(l_shipdate)", "page_index": True},
         lambda: write_lineitem(cat, d, args.sf)),
        ("wide", {"rows": args.wide_rows, "fields": WIDE_FIELDS, "page_index": True},
         lambda: write_wide(cat, args.wide_rows)),
        ("manyfiles", {"files": args.plan_files, "manifests": args.plan_manifests, "rows_per_file": args.plan_rows_per_file,
                       "page_index": True},
         lambda: write_manyfiles(cat, args.plan_files, args.plan_manifests, args.plan_rows_per_file)),
    ]
    for name, params, write in plan:
        if _table_state(cat, name, params) == "ok":
            log(f"reusing {NS}.{name} {json.dumps(params)}")
            continue
        log(f"writing {NS}.{name} {json.dumps(params)}")
        t0 = time.monotonic()
        with page_indexes():
            write()
        _finish(cat.load_table(f"{NS}.{name}"), params)
        spent[name] = time.monotonic() - t0
        log(f"data writing: {NS}.{name} took {spent[name]:.1f}s")
    if spent:
        log(f"data writing took {sum(spent.values()):.1f}s in all")
    return spent


def data_files(tbl) -> list[str]:
    paths = []
    for task in tbl.scan().plan_files():
        if task.delete_files:
            raise SystemExit(f"{tbl.name()} has delete files; DuckDB would read deleted rows")
        p = task.file.file_path
        paths.append(p[len("file://"):] if p.startswith("file://") else p)
    return sorted(paths)


# ====================================================================== Parquet metadata
@dataclass
class Chunk:
    path: str  # dotted path in the Parquet schema, e.g. rec.f07
    compressed: int
    lo: Any
    hi: Any  # None when the chunk has no min/max


class Footers:
    """Row groups and column chunks of data files, read once per file."""

    def __init__(self):
        self.cache: dict[str, list[list[Chunk]]] = {}

    def row_groups(self, f: str) -> list[list[Chunk]]:
        if f not in self.cache:
            md = pq.ParquetFile(f).metadata
            rgs = []
            for i in range(md.num_row_groups):
                rg = md.row_group(i)
                chunks = []
                for c in range(rg.num_columns):
                    col = rg.column(c)
                    st = col.statistics
                    lo = hi = None
                    if st is not None and st.has_min_max:
                        lo, hi = st.min, st.max
                    chunks.append(Chunk(col.path_in_schema, col.total_compressed_size, lo, hi))
                rgs.append(chunks)
            self.cache[f] = rgs
        return self.cache[f]

    def needed_bytes(self, files: list[str], columns: list[str], filter_col: str | None,
                     overlaps: Callable[[Any, Any], bool] | None) -> tuple[int, int, int, int]:
        """(bytes, row groups) of the chunks of `columns` (top-level names or
        dotted leaf paths; a name covers its leaves) in the row groups whose
        statistics of filter_col overlap the filter (all row groups when
        filter_col is None; a row group without statistics counts as
        overlapping), and the same over every row group of the files."""
        want = lambda p: any(p == c or p.startswith(c + ".") for c in columns)  # noqa: E731
        total = match = rgs = rgs_match = 0
        for f in files:
            for chunks in self.row_groups(f):
                size = sum(c.compressed for c in chunks if want(c.path))
                total += size
                rgs += 1
                keep = True
                if filter_col is not None:
                    fc = next(c for c in chunks if c.path == filter_col)
                    keep = fc.hi is None or overlaps(fc.lo, fc.hi)
                if keep:
                    match += size
                    rgs_match += 1
        return match, rgs_match, total, rgs


# ====================================================================== clients
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Metrics:
    """lakeflight's Prometheus endpoint: storage read counters and the
    metadata caches' figures."""

    NAMES = {
        "lakeflight_storage_read_bytes_total": "storage_bytes",
        "lakeflight_storage_reads_total": "storage_reads",
        "lakeflight_cache_hits_total": "hits",
        "lakeflight_cache_misses_total": "misses",
        "lakeflight_cache_size_bytes": "size",
        "lakeflight_cache_capacity_bytes": "capacity",
    }

    def __init__(self, port: int):
        self.url = f"http://127.0.0.1:{port}/metrics"

    def snapshot(self) -> dict[str, float]:
        """storage_bytes, storage_reads (since the server started) and
        footers_/manifests_ hits, misses, size, capacity; {} when the
        endpoint does not answer."""
        try:
            text = urllib.request.urlopen(self.url, timeout=10).read().decode()
        except OSError:
            return {}
        got: dict[str, float] = {}
        for line in text.splitlines():
            m = re.match(r"^(\w+)(\{[^}]*\})?\s+(\S+)", line)
            if not m or m.group(1) not in self.NAMES:
                continue
            key = self.NAMES[m.group(1)]
            cache = re.search(r'cache="(\w+)"', m.group(2) or "")
            got[f"{cache.group(1)}_{key}" if cache else key] = float(m.group(3))
        return got

    @staticmethod
    def delta(a: dict, b: dict) -> dict:
        """Counters' growth from a to b; gauges (size, capacity) as in b."""
        out = {}
        for k, v in b.items():
            out[k] = v if k.endswith(("_size", "_capacity")) else v - a.get(k, 0.0)
        return out


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def flightsql_descriptor(sql: str):
    """A Flight SQL CommandStatementQuery in a protobuf Any, encoded by hand
    (pyarrow.flight has no Flight SQL; field 1 is the query)."""
    import pyarrow.flight as fl

    q = sql.encode()
    cmd = b"\x0a" + _varint(len(q)) + q
    url = b"type.googleapis.com/arrow.flight.protocol.sql.CommandStatementQuery"
    return fl.FlightDescriptor.for_command(b"\x0a" + _varint(len(url)) + url + b"\x12" + _varint(len(cmd)) + cmd)


@dataclass
class Streamed:
    rows: int
    bytes: int
    endpoints: int = 0

    @property
    def num_rows(self) -> int:
        return self.rows


def count_reader(reader) -> Streamed:
    rows = nbytes = 0
    for batch in reader:
        batch = getattr(batch, "data", batch)  # FlightStreamChunk or RecordBatch
        rows += batch.num_rows
        nbytes += batch.get_total_buffer_size()
    return Streamed(rows, nbytes)


class FlightRaw:
    """A pyarrow.flight client speaking just enough Flight SQL."""

    def __init__(self, uri: str, timeout: float):
        import pyarrow.flight as fl

        self.client = fl.FlightClient(uri)
        self.opts = fl.FlightCallOptions(timeout=timeout)  # seconds, per call

    def close(self):
        self.client.close()

    def info(self, sql: str):
        return self.client.get_flight_info(flightsql_descriptor(sql), self.opts)

    def stream(self, sql: str, parallel: bool) -> Streamed:
        info = self.info(sql)
        eps = list(info.endpoints)

        def one(ep):
            return count_reader(self.client.do_get(ep.ticket, self.opts))

        if parallel and len(eps) > 1:
            with cf.ThreadPoolExecutor(len(eps)) as ex:
                parts = list(ex.map(one, eps))
        else:
            parts = [one(ep) for ep in eps]
        return Streamed(sum(p.rows for p in parts), sum(p.bytes for p in parts), len(eps))


_SCAN_FIGS = re.compile(r"files=(\d+) rowgroups=(\d+)/(\d+) skipped=(\d+) rows_read=(\d+) bytes_read=(\d+) bytes_skipped=(\d+)")


def explain_analyze(client: tb.LakeflightClient, sql: str, table: str) -> dict:
    """Runs EXPLAIN ANALYZE over ADBC; sums the figures of the scans of
    `table` (one line per scan operator)."""
    cur = client.conn.cursor()
    try:
        cur.execute("EXPLAIN ANALYZE " + sql)
        lines = [str(x) for x in cur.fetch_arrow_table().column(0).to_pylist()]
    finally:
        cur.close()
    keys = ["files", "rowgroups_read", "rowgroups", "skipped", "rows_read", "bytes_read", "bytes_skipped"]
    figs = dict.fromkeys(keys, 0)
    found = False
    for line in lines:
        if f"Scan {table} " not in line:
            continue
        m = _SCAN_FIGS.search(line)
        if not m:
            continue
        found = True
        for k, v in zip(keys, m.groups()):
            figs[k] += int(v)
        # Later additions to the line, when the binary has them: row groups
        # skipped through dictionaries and bloom filters, and files read
        # through iceberg-go (whose row groups and bytes are not counted).
        for k in ("skipped_dict", "skipped_bloom", "iceberg_files"):
            x = re.search(rf"\b{k}=(\d+)", line)
            if x:
                figs[k] = figs.get(k, 0) + int(x.group(1))
        tf = re.search(r"table_files=(\d+)", line)
        if tf:
            figs["table_files"] = int(tf.group(1))
    figs["found"] = found
    figs["lines"] = lines
    return figs


# ====================================================================== timing
@dataclass
class Timing:
    engine: str
    command: str
    times_ms: list[float] = field(default_factory=list)
    warmup_ms: float | None = None
    rows: int | None = None
    bytes: int | None = None  # Arrow buffer bytes received (streaming)
    endpoints: int | None = None
    error: str | None = None
    server_cpu_ms: list[float] = field(default_factory=list)
    result: Any = None  # the warm-up's answer, when kept for comparing

    @property
    def median_ms(self) -> float | None:
        return statistics.median(self.times_ms) if self.times_ms and not self.error else None

    @property
    def gbps(self) -> float | None:
        m = self.median_ms
        return self.bytes / (m / 1e3) / 1e9 if m and self.bytes else None


@dataclass
class Engine:
    name: str
    command: str  # what is run, for the report
    fn: Callable[[], Any]
    cancel: Callable[[], None] = lambda: None
    server: Any = None  # the lakeflight process, for its CPU time


class Runner:
    def __init__(self, runs: int, timeout: float):
        self.runs = runs
        self.timeout = timeout
        self.loads: list[float] = []

    def measure(self, engines: list[Engine], keep: bool = False) -> list[Timing]:
        """One warm-up per engine, then `runs` rounds alternating them; with
        keep, each Timing keeps its warm-up's answer."""
        out = [Timing(e.name, e.command) for e in engines]
        for i in range(self.runs + 1):
            for e, t in zip(engines, out):
                if t.error:
                    continue
                c0 = e.server.cpu_seconds() if e.server else 0.0
                res, ms, err, _ = tb.run_timed(e.fn, e.cancel, self.timeout)
                cpu = (e.server.cpu_seconds() - c0) * 1e3 if e.server else None
                if err:
                    t.error = err if i == 0 else f"timed run failed after a good warm-up: {err}"
                    log(f"  {e.name}: {err}")
                    continue
                if i == 0:
                    t.warmup_ms = ms
                    t.rows = getattr(res, "num_rows", None)
                    if keep:
                        t.result = res
                    if isinstance(res, Streamed):
                        t.bytes, t.endpoints = res.bytes, res.endpoints
                else:
                    t.times_ms.append(ms)
                    if cpu is not None:
                        t.server_cpu_ms.append(cpu)
            self.loads.append(os.getloadavg()[0])
        return out


# ====================================================================== measurements
def adbc_engine(client: tb.LakeflightClient, sql: str, name="lakeflight") -> Engine:
    box: dict[str, Any] = {}

    def fn():
        cur = client.conn.cursor()
        box["cur"] = cur
        try:
            cur.execute(sql)
            return cur.fetch_arrow_table()
        finally:
            box.pop("cur", None)
            cur.close()

    def cancel():
        cur = box.get("cur")
        if cur is not None:
            cur.adbc_cancel()

    return Engine(name, f"ADBC Flight SQL: `{sql}`, `fetch_arrow_table()`", fn, cancel, client.server)


def duck_engine(con, sql: str) -> Engine:
    return Engine("DuckDB", f"`{sql}` (views over `read_parquet`), `.to_arrow_table()`",
                  lambda: con.sql(sql).to_arrow_table(), con.interrupt)


def selective(ctx, name: str, sql: str, columns: list[str], filt_col: str, pyice_filter, pyice_text: str,
              overlaps) -> dict:
    tbl = ctx.tables["lineitem"]
    log(f"{name}: {sql}")
    engines = [
        adbc_engine(ctx.client, sql.format(t=f"{NS}.lineitem")),
        duck_engine(ctx.duck, sql.format(t=f"{NS}.lineitem")),
        Engine("PyIceberg", f"`{pyice_text}`",
               lambda: tbl.scan(row_filter=pyice_filter, selected_fields=tuple(columns)).to_arrow()),
    ]
    timings = ctx.runner.measure(engines, keep=True)
    checks = []
    for other in timings[1:]:
        if timings[0].result is not None and other.result is not None:
            try:
                diff = tb.compare(timings[0].result, other.result.select(timings[0].result.column_names), False)
            except Exception as e:  # noqa: BLE001
                diff = f"comparison failed: {tb._error_text(e)}"
            if diff:
                checks.append(f"lakeflight vs {other.engine}: {diff}")
    for t in timings:
        t.result = None
    s0 = ctx.metrics.snapshot()
    ok = ctx.once_lakeflight(sql.format(t=f"{NS}.lineitem"))
    io = Metrics.delta(s0, ctx.metrics.snapshot()) if ok and s0 else {}
    figs = explain_analyze(ctx.client, sql.format(t=f"{NS}.lineitem"), f"{NS}.lineitem")
    needed = sorted(set(columns) | {filt_col})
    match, rg_match, total, rgs = ctx.footers.needed_bytes(ctx.files["lineitem"], needed, filt_col, overlaps)
    r = {
        "name": name, "sql": sql.format(t=f"{NS}.lineitem"), "timings": timings, "explain": figs,
        "needed_columns": needed, "ref_bytes": match, "ref_rowgroups": rg_match,
        "all_bytes": total, "all_rowgroups": rgs,
        "storage_bytes": io.get("storage_bytes"), "storage_reads": io.get("storage_reads"), "io": io,
        "checks": checks,
    }
    lf, dk = timings[0], timings[1]
    r["ratio_duck"] = lf.median_ms / dk.median_ms if lf.median_ms and dk.median_ms else None
    r["ratio_pyice"] = lf.median_ms / timings[2].median_ms if lf.median_ms and timings[2].median_ms else None
    r["bytes_ratio"] = figs["bytes_read"] / match if figs["found"] and match else None
    rows = {t.engine: t.rows for t in timings if t.rows is not None}
    r["rows_agree"] = len(set(rows.values())) <= 1 and not checks
    for c in checks:
        log(f"  ANSWERS DIFFER: {c}")
    log(f"{name}: lakeflight {tb._ms(lf.median_ms)} ms, DuckDB {tb._ms(dk.median_ms)} ms, PyIceberg "
        f"{tb._ms(timings[2].median_ms)} ms; bytes_read {figs['bytes_read']:,} vs {match:,} in matching row groups "
        f"(ratio {r['bytes_ratio'] if r['bytes_ratio'] is None else round(r['bytes_ratio'], 3)}); rows {rows}")
    return r


def struct_leaf(ctx, leaves: list[str]) -> dict:
    files = ctx.files["wide"]
    whole_sql = f"SELECT rec FROM {NS}.wide"
    whole = explain_analyze(ctx.client, whole_sql, f"{NS}.wide")
    whole_ref, _, _, _ = ctx.footers.needed_bytes(files, ["rec"], None, None)
    out = {"whole_sql": whole_sql, "whole": whole, "whole_ref": whole_ref, "leaves": []}
    for leaf in leaves:
        sql = f"SELECT rec.{leaf} FROM {NS}.wide"
        log(f"struct leaf: {sql}")
        figs = explain_analyze(ctx.client, sql, f"{NS}.wide")
        ref, _, _, _ = ctx.footers.needed_bytes(files, [f"rec.{leaf}"], None, None)
        timings = ctx.runner.measure([adbc_engine(ctx.client, sql), duck_engine(ctx.duck, sql)])
        share = figs["bytes_read"] / whole["bytes_read"] if figs["found"] and whole["found"] and whole["bytes_read"] else None
        out["leaves"].append({"leaf": leaf, "sql": sql, "explain": figs, "ref": ref, "timings": timings,
                              "share": share, "ref_share": ref / whole_ref if whole_ref else None})
        log(f"  bytes_read {figs['bytes_read']:,} vs whole struct {whole['bytes_read']:,}: "
            f"{'—' if share is None else f'{100 * share:.2f}%'} (Parquet chunks: {ref:,} of {whole_ref:,})")
    return out


def streaming(ctx, table: str) -> dict:
    sql = f"SELECT * FROM {NS}.{table}"
    tbl = ctx.tables[table]
    log(f"streaming: {sql}")

    def duck_stream():
        return count_reader(ctx.duck.sql(sql).to_arrow_reader(122880))

    engines = [
        Engine("lakeflight (endpoints in parallel)",
               f"pyarrow.flight: `get_flight_info({sql!r})`, `do_get` of every endpoint on its own thread",
               lambda: ctx.flight.stream(sql, True), server=ctx.server),
        Engine("lakeflight (endpoints one after another)",
               f"pyarrow.flight: `get_flight_info({sql!r})`, `do_get` of each endpoint in turn",
               lambda: ctx.flight.stream(sql, False), server=ctx.server),
        Engine("DuckDB", f"`{sql}` (view over `read_parquet`), `.to_arrow_reader()`", duck_stream, ctx.duck.interrupt),
        Engine("PyIceberg", f"`catalog.load_table('{NS}.{table}').scan().to_arrow_batch_reader()`",
               lambda: count_reader(tbl.scan().to_arrow_batch_reader())),
    ]
    timings = ctx.runner.measure(engines)
    for t in timings:
        log(f"  {t.engine}: {tb._ms(t.median_ms)} ms, {t.rows} rows, "
            f"{'—' if t.bytes is None else f'{t.bytes / 1e6:,.0f} MB'}, "
            f"{'—' if t.gbps is None else f'{t.gbps:.2f} GB/s'}")
    summary = tbl.current_snapshot().summary
    return {"table": table, "sql": sql, "timings": timings,
            "file_bytes": int(summary["total-files-size"]), "files": int(summary["total-data-files"]),
            "records": int(summary["total-records"])}


def planning(ctx, args) -> dict:
    tbl = ctx.tables["manyfiles"]
    t = f"{NS}.manyfiles"
    per = args.plan_files // args.plan_manifests
    p_fixed = args.plan_files // 2 + 7
    queries = {
        "all": (f"SELECT * FROM {t}", None),
        "all_miss": (f"SELECT * FROM {t} WHERE id >= -{{n}}", "a filter keeping every file, its constant new each run"),
        "point": (f"SELECT * FROM {t} WHERE part = {p_fixed}", None),
        "point_miss": (f"SELECT * FROM {t} WHERE part = {{n}}", "`part` new each run"),
    }
    counter = iter(range(1, 10**9))
    out: dict[str, Any] = {"queries": {}, "files": args.plan_files, "manifests": args.plan_manifests}

    def sql_of(key):
        q, _ = queries[key]
        return q.format(n=(next(counter) * 7919) % args.plan_files) if "{n}" in q else q

    # The files each query plans, from lakeflight's EXPLAIN (the Scan line's
    # files=N is the plan's; a scan split across workers repeats it).
    for key, (q, _) in queries.items():
        try:
            cur = ctx.client.conn.cursor()
            cur.execute("EXPLAIN " + q.format(n=1))
            lines = [str(x) for x in cur.fetch_arrow_table().column(0).to_pylist()]
            cur.close()
            m = next((re.search(r"\bfiles=(\d+)", l) for l in lines if f"Scan {t} " in l), None)
            out.setdefault("explain_files", {})[key] = int(m.group(1)) if m else None
        except Exception as e:  # noqa: BLE001
            log(f"EXPLAIN {q}: {tb._error_text(e)}")

    # lakeflight warm: GetFlightInfo (plans the query: manifests, pruning,
    # file list, one ticket per endpoint), after a warm-up.
    for key in queries:
        engines = [Engine(f"lakeflight warm ({key})", "", lambda key=key: _info_timing(ctx.flight, sql_of(key)),
                          server=ctx.server)]
        runner = Runner(args.plan_runs, args.timeout)
        tm = runner.measure(engines)[0]
        ctx.runner.loads.extend(runner.loads)
        tm.command = f"pyarrow.flight `get_flight_info` of `{queries[key][0].format(n='N')}`" + (
            f" ({queries[key][1]})" if queries[key][1] else "")
        tm.rows = out.get("explain_files", {}).get(key)
        out["queries"][key] = {"warm": tm}
        log(f"planning warm {key}: median {tb._ms(tm.median_ms)} ms over {len(tm.times_ms)} runs")

    # lakeflight cold: restart, connect, one trivial query, then time the
    # first GetFlightInfo of the query.
    for key in ("all", "point"):
        tm = Timing(f"lakeflight cold ({key})",
                    f"restart `lakeflight serve`, `SELECT 1`, then pyarrow.flight `get_flight_info` of `{queries[key][0]}`",
                    rows=out.get("explain_files", {}).get(key))
        for _ in range(args.runs):
            ctx.restart()
            one = ctx.flight.info("SELECT 1")
            for ep in one.endpoints:
                count_reader(ctx.flight.client.do_get(ep.ticket, ctx.flight.opts))
            c0 = ctx.server.cpu_seconds()
            t0 = time.perf_counter()
            try:
                ctx.flight.info(queries[key][0])
            except Exception as e:  # noqa: BLE001
                tm.error = tb._error_text(e)
                break
            tm.times_ms.append((time.perf_counter() - t0) * 1e3)
            tm.server_cpu_ms.append((ctx.server.cpu_seconds() - c0) * 1e3)
            ctx.runner.loads.append(os.getloadavg()[0])
        out["queries"][key]["cold"] = tm
        log(f"planning cold {key}: {', '.join(tb._ms(x) for x in tm.times_ms)} ms")

    # PyIceberg: plan_files() in this process, repeated (its manifest-list
    # cache warm), and the first plan_files() of a fresh process.
    from pyiceberg.expressions import EqualTo

    pyq = {"all": (lambda: list(tbl.scan().plan_files()), "table.scan().plan_files()"),
           "point": (lambda: list(tbl.scan(row_filter=EqualTo("part", p_fixed)).plan_files()),
                     f"table.scan(row_filter=EqualTo('part', {p_fixed})).plan_files()")}
    for key, (fn, text) in pyq.items():
        warm = Runner(args.runs, args.timeout).measure([Engine("PyIceberg warm", f"`{text}` repeated in one process", fn)])[0]
        warm.rows = len(fn())
        cold = Timing("PyIceberg cold", f"`{text}`, the first call in a fresh Python process (after `load_table`)")
        cold_load = Timing("PyIceberg cold, with load_table",
                           f"`catalog.load_table('{t}')` then `{text}` in a fresh Python process")
        load_ms = []
        for _ in range(args.runs):
            got = _pyiceberg_cold(ctx.data_dir, text)
            if "error" in got:
                cold.error = got["error"]
                break
            cold.times_ms.append(got["plan_ms"])
            cold_load.times_ms.append(got["load_ms"] + got["plan_ms"])
            load_ms.append(got["load_ms"])
            cold.rows = cold_load.rows = got["tasks"]
        out["queries"][key]["pyiceberg_warm"] = warm
        out["queries"][key]["pyiceberg_cold"] = cold
        out["queries"][key]["pyiceberg_cold_load"] = cold_load
        out["queries"][key]["pyiceberg_load_ms"] = statistics.median(load_ms) if load_ms else None
        log(f"PyIceberg {key}: warm {tb._ms(warm.median_ms)} ms, cold {tb._ms(cold.median_ms)} ms "
            f"({cold.rows} tasks)")
    for key, (q, _) in queries.items():
        out["queries"][key]["sql"] = q.format(n="N")
    out["per_manifest"] = per
    return out


def _info_timing(flight: FlightRaw, sql: str):
    info = flight.info(sql)
    return len(info.endpoints)


_COLD_SCRIPT = r"""
import json, sys, time
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.expressions import EqualTo
d = sys.argv[1]
cat = SqlCatalog("default", uri=f"sqlite:///{d}/catalog.db", warehouse=f"file://{d}/warehouse")
t0 = time.perf_counter()
table = cat.load_table("scanbench.manyfiles")
t1 = time.perf_counter()
tasks = list(eval(sys.argv[2]))
t2 = time.perf_counter()
print(json.dumps({"load_ms": (t1 - t0) * 1e3, "plan_ms": (t2 - t1) * 1e3, "tasks": len(tasks)}))
"""


def _pyiceberg_cold(d: Path, expr: str) -> dict:
    p = subprocess.run([sys.executable, "-c", _COLD_SCRIPT, str(d), expr], capture_output=True, text=True)
    if p.returncode != 0:
        return {"error": tb._one_line(p.stderr[-600:])}
    return json.loads(p.stdout.strip().splitlines()[-1])


# ====================================================================== context
class Ctx:
    def __init__(self, args, binary: str, data_dir: Path):
        import duckdb

        self.args = args
        self.data_dir = data_dir
        self.cat = catalog_for(data_dir)
        self.tables = {n: self.cat.load_table(f"{NS}.{n}") for n in ("lineitem", "wide", "manyfiles")}
        self.files = {n: data_files(self.tables[n]) for n in ("lineitem", "wide")}
        self.footers = Footers()
        self.runner = Runner(args.runs, args.timeout)
        self.duck = duckdb.connect()
        self.duck.execute(f"SET threads = {int(args.threads)}")
        self.duck.execute("SET TimeZone = 'UTC'")
        self.duck.execute(f"CREATE SCHEMA {NS}")
        for n, paths in self.files.items():
            cols = ", ".join(self.tables[n].schema().column_names if n != "wide" else ["id", "rec"])
            lst = ", ".join("'" + p.replace("'", "''") + "'" for p in paths)
            self.duck.execute(f"CREATE VIEW {NS}.{n} AS SELECT {cols} FROM read_parquet([{lst}], hive_partitioning = false)")
        self.metrics_port = free_port()
        self.server = tb.Lakeflight(binary, data_dir, args.threads, data_dir / "lakeflight-scanbench.log",
                                    ["--metrics-listen", f"127.0.0.1:{self.metrics_port}", *args.lakeflight_arg])
        self.metrics = Metrics(self.metrics_port)
        self.client = tb.LakeflightClient(self.server, args.timeout)
        self.flight: FlightRaw | None = None

    def start(self):
        self.server.start()
        log(f"lakeflight pid {self.server.proc.pid} on {self.server.uri}, metrics on port {self.metrics_port}")
        self.client.connect()
        self.flight = FlightRaw(self.server.uri, self.args.timeout)

    def restart(self):
        self.client.close()
        if self.flight:
            self.flight.close()
        self.server.stop()
        self.start()

    def once_lakeflight(self, sql: str) -> bool:
        res, _, err, _ = tb.run_timed(adbc_engine(self.client, sql).fn, lambda: None, self.args.timeout)
        return err is None

    def close(self):
        self.client.close()
        if self.flight:
            self.flight.close()
        self.server.stop()
        self.duck.close()


# ====================================================================== report
def _fmt_bytes(n: float | None) -> str:
    if n is None or (isinstance(n, float) and math.isnan(n)):
        return "—"
    for unit, div in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if abs(n) >= div:
            return f"{n / div:,.2f} {unit}"
    return f"{int(n):,} B"


def _met(ok: bool | None) -> str:
    return "—" if ok is None else ("**met**" if ok else "**not met**")


def _x(v: float | None, digits=2) -> str:
    return "—" if v is None else f"{v:.{digits}f}x"


def _count(v: float | None) -> str:
    return "—" if v is None or math.isnan(v) else f"{v:,.0f}"


def _pct(v: float | None) -> str:
    return "—" if v is None else f"{100 * v:.2f}%"


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")


def _cache_note(io: dict) -> str:
    """The footer cache's lookups during a run, and how full it is."""
    if "footers_hits" not in io:
        return ""
    note = (f"; footer cache during that run: {io['footers_hits']:,.0f} hits, {io['footers_misses']:,.0f} misses, "
            f"{_fmt_bytes(io.get('footers_size'))} held of {_fmt_bytes(io.get('footers_capacity'))}")
    if io.get("footers_misses", 0) > 0 and io.get("footers_capacity") and io.get("footers_size", 0) >= 0.95 * io["footers_capacity"]:
        note += " (full: warm runs read footers again)"
    return note


def _md(s: str) -> str:
    return s.replace("|", "\\|")


def targets(res: dict) -> list[tuple[str, str, bool | None]]:
    rows = []
    for q in res["selective"]:
        lf = q["timings"][0]
        rows.append((f"{q['name']}: lakeflight time <= {T_SELECTIVE_RATIO:g} x DuckDB's",
                     f"{_x(q['ratio_duck'])} ({tb._ms(lf.median_ms)} ms vs {tb._ms(q['timings'][1].median_ms)} ms)",
                     None if q["ratio_duck"] is None else q["ratio_duck"] <= T_SELECTIVE_RATIO))
        rows.append((f"{q['name']}: bytes read <= {T_BYTES_RATIO:g} x the matching row groups' chunks",
                     f"{_x(q['bytes_ratio'], 3)} ({_fmt_bytes(q['explain']['bytes_read'])} vs {_fmt_bytes(q['ref_bytes'])})",
                     None if q["bytes_ratio"] is None else q["bytes_ratio"] <= T_BYTES_RATIO))
    if len(res["selective"]) < 2:
        rows.append(("selective queries on lineitem", "not measured (failed; see the errors below)", None))
    st = res["struct"]
    if st is None:
        rows.append((f"struct leaf: bytes read <= {100 * T_LEAF_SHARE:g}% of the whole struct's",
                     "not measured (failed; see the errors below)", None))
    for lv in (st or {}).get("leaves", []):
        rows.append((f"struct leaf `rec.{lv['leaf']}`: bytes read <= {100 * T_LEAF_SHARE:g}% of the whole struct's",
                     "—" if lv["share"] is None else f"{100 * lv['share']:.2f}% ({_fmt_bytes(lv['explain']['bytes_read'])} "
                     f"vs {_fmt_bytes(st['whole']['bytes_read'])})",
                     None if lv["share"] is None else lv["share"] <= T_LEAF_SHARE))
    big = res["stream_largest"]
    streamed = next((s for s in res["stream"] if s["table"] == big), None)
    if big and streamed is None:
        rows.append((f"full scan of `{big}` (largest table) to pyarrow.flight >= {T_STREAM_GBPS:g} GB/s",
                     "not measured (failed; see the errors below)", None))
    for s in [streamed] if streamed else []:
        lf = s["timings"][0]
        rows.append((f"full scan of `{s['table']}` (largest table) to pyarrow.flight >= {T_STREAM_GBPS:g} GB/s",
                     "—" if lf.gbps is None else f"{lf.gbps:.2f} GB/s ({_fmt_bytes(lf.bytes)} in {tb._ms(lf.median_ms)} ms)",
                     None if lf.gbps is None else lf.gbps >= T_STREAM_GBPS))
    if res["planning"] is None:
        rows.append(("planning: warm and cold", "not measured (failed; see the errors below)", None))
    pl = res["planning"]["queries"] if res["planning"] else {}
    for key in ("all", "point") if pl else ():
        w = pl[key]["warm"]
        rows.append((f"planning `{pl[key]['sql']}`: warm < {T_WARM_PLAN_MS:g} ms (the same statement repeated)",
                     f"{tb._ms(w.median_ms)} ms (median of {len(w.times_ms)}; a plan cache hit)",
                     None if w.median_ms is None else w.median_ms < T_WARM_PLAN_MS))
        wm = pl[key + "_miss"]["warm"]
        rows.append((f"planning `{pl[key + '_miss']['sql']}`: warm < {T_WARM_PLAN_MS:g} ms (a new constant each run)",
                     f"{tb._ms(wm.median_ms)} ms (median of {len(wm.times_ms)}; plan cache misses, manifests cached)",
                     None if wm.median_ms is None else wm.median_ms < T_WARM_PLAN_MS))
        c, py = pl[key]["cold"], pl[key]["pyiceberg_cold"]
        sp = py.median_ms / c.median_ms if c.median_ms and py.median_ms else None
        pl[key]["cold_speedup"] = sp
        pyl = pl[key]["pyiceberg_cold_load"]
        spl = pyl.median_ms / c.median_ms if c.median_ms and pyl.median_ms else None
        rows.append((f"planning `{pl[key]['sql']}`: cold >= {T_COLD_PLAN_SPEEDUP:g}x faster than PyIceberg's first `plan_files()`",
                     f"{_x(sp, 1)} ({tb._ms(c.median_ms)} ms vs {tb._ms(py.median_ms)} ms; lakeflight's cold time includes "
                     f"loading the table, PyIceberg's does not: with `load_table` it takes {tb._ms(pyl.median_ms)} ms, "
                     f"{_x(spl, 1)})",
                     None if sp is None else sp >= T_COLD_PLAN_SPEEDUP))
    return rows


def timing_table(w, timings: list[Timing], base: Timing | None = None, extra: Callable[[Timing], str] | None = None,
                 extra_head: str = "") -> None:
    w("| engine | command | median ms | warm-up ms | runs ms | rows | " + (f"{extra_head} | " if extra else "")
      + "lakeflight time ÷ this |")
    w("| --- | --- | ---: | ---: | --- | ---: | " + ("---: | " if extra else "") + "---: |")
    base = base or timings[0]
    for t in timings:
        rel = "—"
        if t is not base and t.median_ms and base.median_ms:
            rel = f"{base.median_ms / t.median_ms:.2f}x"
        med = tb._ms(t.median_ms) if not t.error else "error"
        runs = ", ".join(tb._ms(x) for x in t.times_ms)
        w(f"| {t.engine} | {_md(t.command)} | {med} | {tb._ms(t.warmup_ms)} | {runs} | "
          f"{'—' if t.rows is None or t.rows < 0 else f'{t.rows:,}'} | " + (f"{extra(t)} | " if extra else "") + f"{rel} |")
    errs = [t for t in timings if t.error]
    for t in errs:
        w("")
        w(f"- {t.engine} failed: `{_md(t.error)}`")


def section(res: dict, meta: dict, png: Path | None, out: Path) -> str:
    L: list[str] = []
    w = L.append
    w(f"## {SECTION_TITLE}")
    w("")
    w("<!-- Written by bench/scan/bench.py; rerun it rather than editing the numbers by hand. -->")
    w("")
    w(f"Issue 4: a query should read only what it needs. lakeflight (end to end from a Python client over "
      f"loopback) against DuckDB over `read_parquet([the table's data files])` and PyIceberg, in the same run, on "
      f"TPC-H lineitem SF {meta['sf']} partitioned by day ({meta['lineitem_files']:,} data files), a table with a "
      f"{WIDE_FIELDS}-field struct ({meta['wide_rows']:,} rows) and a table of {meta['plan_files']:,} data files in "
      f"{meta['plan_manifests']} manifests. Times are the median of {meta['runs']} timed runs after one warm-up per "
      f"engine, the engines alternating; {meta['threads']} threads for lakeflight (GOMAXPROCS) and DuckDB.")
    w("")
    trs = targets(res)
    met = sum(1 for *_, ok in trs if ok)
    w(f"Targets met: **{met} of {len(trs)}**.")
    w("")
    w("| target | figure | result |")
    w("| --- | --- | --- |")
    for name, fig, ok in trs:
        w(f"| {_md(name)} | {_md(fig)} | {_met(ok)} |")
    w("")
    if png is not None:
        w(f"![scan benchmarks: selective queries, bytes read, struct leaf, streaming, planning]"
          f"({os.path.relpath(png, out.parent)})")
        w("")

    w("### Selective queries on lineitem")
    w("")
    w("Each engine's time is end to end: lakeflight through ADBC (`adbc_driver_flightsql.dbapi`, execute and "
      "`fetch_arrow_table()`), DuckDB in process (`.to_arrow_table()`), PyIceberg's `to_arrow()` (it selects the "
      "same columns). \"lakeflight time ÷ this\" is lakeflight's median over that engine's (below 1: lakeflight is "
      "faster). Server CPU ms: the lakeflight process's CPU time per timed run (/proc/PID/stat, 10 ms ticks).")
    for q in res["selective"]:
        w("")
        w(f"**{q['name']}**: `{q['sql']}`" + ("" if q["rows_agree"] else " — **the engines' answers differ**: "
                                             + "; ".join(q["checks"] or ["row counts differ"])))
        w("")
        timing_table(w, q["timings"], extra=lambda t: "—" if not t.server_cpu_ms else tb._ms(statistics.mean(t.server_cpu_ms)),
                     extra_head="server CPU ms")
        e = q["explain"]
        w("")
        w(f"Bytes: `EXPLAIN ANALYZE {q['sql']}` reports (summed over its scan operators) "
          f"`files={e['files']} rowgroups={e['rowgroups_read']}/{e['rowgroups']} skipped={e['skipped']} "
          f"rows_read={e['rows_read']:,} bytes_read={e['bytes_read']:,} bytes_skipped={e['bytes_skipped']:,}"
          + "".join(f" {k}={e[k]:,}" for k in ("skipped_dict", "skipped_bloom", "iceberg_files") if k in e) + "`"
          + (f" of a table of {e['table_files']:,} files" if "table_files" in e else "") + ". "
          f"The reference, from the Parquet footers (pyarrow `ParquetFile.metadata` of every data file): the "
          f"compressed size of the chunks of the needed columns ({', '.join(q['needed_columns'])}) in the row groups "
          f"whose min/max of the filter column overlap the filter: **{q['ref_bytes']:,} bytes in "
          f"{_plural(q['ref_rowgroups'], 'row group')}** (all row groups: {q['all_bytes']:,} bytes in {q['all_rowgroups']:,}). "
          f"lakeflight / reference = **{_x(q['bytes_ratio'], 3)}**. The server's storage counter "
          f"(`lakeflight_storage_read_bytes_total`, every byte read from table files: footers, column chunks) "
          f"grew by {_fmt_bytes(q['storage_bytes'])} in {_count(q['storage_reads'])} "
          f"reads over one more (warm) run of the query"
          + (f", {q['storage_bytes'] / q['ref_bytes']:.2f}x the reference" if q["storage_bytes"] and q["ref_bytes"] else "")
          + _cache_note(q["io"]) + "."
          + (f" **{e['iceberg_files']:,} files were read through iceberg-go: their bytes are not in bytes_read.**"
             if e.get("iceberg_files") else ""))
    w("")

    st = res["struct"]
    w("### One leaf of a 50-field struct")
    w("")
    if st is None:
        w("Not measured: it failed (see Errors below).")
        w("")
    else:
        w(f"`{NS}.wide`: `id bigint` and `rec struct<f00 int, f01 double, f02 string, ...>` ({WIDE_FIELDS} fields cycling "
          f"int, double, string; {meta['wide_rows']:,} rows in {_plural(meta['wide_files'], 'file')}). Bytes from EXPLAIN ANALYZE; "
          f"the whole struct is `EXPLAIN ANALYZE {st['whole_sql']}`: bytes_read={st['whole']['bytes_read']:,} "
          f"(Parquet chunks of all of `rec`'s leaves: {st['whole_ref']:,}).")
        w("")
        w("| query | lakeflight bytes_read | share of the whole struct | the leaf's Parquet chunks | their share | "
          "lakeflight ms | DuckDB ms | target (<= 5%) |")
        w("| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
        for lv in st["leaves"]:
            lf, dk = lv["timings"]
            w(f"| `EXPLAIN ANALYZE {lv['sql']}` | {lv['explain']['bytes_read']:,} | "
              f"{_pct(lv['share'])} | {lv['ref']:,} | "
              f"{_pct(lv['ref_share'])} | {tb._ms(lf.median_ms)} | "
              f"{tb._ms(dk.median_ms)} | {_met(None if lv['share'] is None else lv['share'] <= T_LEAF_SHARE)} |")
        fallback = [lv["sql"] for lv in st["leaves"] if lv["explain"].get("iceberg_files")]
        if st["whole"].get("iceberg_files") or fallback:
            w("")
            w("**Some files were read through iceberg-go (`iceberg_files=` in EXPLAIN ANALYZE): their bytes are not in "
              "bytes_read, so these shares are not comparable.**")
        errs = [(lv["leaf"], t) for lv in st["leaves"] for t in lv["timings"] if t.error]
        for leaf, t in errs:
            w(f"\n- `rec.{leaf}`, {t.engine} failed: `{_md(t.error)}`")
        w("")
        w("The times are end to end (lakeflight: ADBC, DuckDB: `SELECT rec.fNN FROM` its view over `read_parquet`), "
          "informational.")
        w("")

    w("### Full-scan streaming throughput")
    w("")
    w("Bytes are the Arrow buffer bytes the client received (`RecordBatch.get_total_buffer_size()` summed over the "
      "batches), GB/s = those bytes / median time (10^9 bytes). The lakeflight client is `pyarrow.flight.FlightClient` "
      "over loopback (a Flight SQL `CommandStatementQuery` descriptor, `get_flight_info`, `do_get` of every endpoint; "
      "the batches are counted and dropped). DuckDB and PyIceberg read the same files in this process.")
    for s in res["stream"]:
        w("")
        w(f"**`{s['table']}`** ({s['records']:,} rows, {_plural(s['files'], 'data file')}, {_fmt_bytes(s['file_bytes'])} of "
          f"Parquet)" + (" — the largest table, the one the target is held against" if s["table"] == res["stream_largest"] else "")
          + ":")
        w("")
        timing_table(w, s["timings"], extra=lambda t: ("—" if t.gbps is None else f"{t.gbps:.2f}") + (
            f" ({_fmt_bytes(t.bytes)}" + (f", {_plural(t.endpoints, 'endpoint')}" if t.endpoints else "") + ")" if t.bytes else ""),
            extra_head="GB/s")
    w("")

    pl = res["planning"]
    w("### Planning")
    w("")
    if pl is None:
        w("Not measured: it failed (see Errors below).")
        w("")
    else:
        w(f"`{NS}.manyfiles`: {pl['files']:,} data files in {pl['manifests']} manifests ({pl['manifests']} PyIceberg appends "
          f"of {pl['per_manifest']} files, identity-partitioned by `part`, one file per value). lakeflight's planning time "
          f"is the client's time of `get_flight_info` (pyarrow.flight): it parses, plans, lists the files (manifest list, "
          f"manifests, partition and file pruning) and answers with signed tickets; nothing is read from data files. "
          f"lakeflight keeps plans per table metadata file and request (a repeated identical query is a plan cache hit) "
          f"and caches manifests: the \"new constant\" rows change a filter constant every run, so they plan again over "
          f"cached manifests. Cold is the first `get_flight_info` after a server restart (after a `SELECT 1` on the new "
          f"connection): lakeflight has nothing cached, the OS page cache is warm. PyIceberg cold is the first "
          f"`plan_files()` in a fresh Python process, after `load_table` (not timed).")
        w("")
        w("| what | command | median ms | runs ms | files planned | server CPU ms |")
        w("| --- | --- | ---: | --- | ---: | ---: |")
        for key in ("all", "all_miss", "point", "point_miss"):
            q = pl["queries"][key]
            rows = [q["warm"]] + ([q["cold"]] if "cold" in q else []) + (
                [q["pyiceberg_warm"], q["pyiceberg_cold"], q["pyiceberg_cold_load"]] if "pyiceberg_warm" in q else [])
            for t in rows:
                runs = ", ".join(tb._ms(x) for x in t.times_ms)
                if len(t.times_ms) > 12:
                    runs = f"min {tb._ms(min(t.times_ms))}, max {tb._ms(max(t.times_ms))}"
                files = t.rows if t.rows is not None and t.rows >= 0 else None
                w(f"| {t.engine} | {_md(t.command)} | {tb._ms(t.median_ms) if not t.error else 'error: ' + _md(t.error)} | "
                  f"{runs} | {'—' if files is None else f'{files:,}'} | "
                  f"{'—' if not t.server_cpu_ms else tb._ms(statistics.median(t.server_cpu_ms))} |")
        w("")

    if res["errors"]:
        w("### Errors")
        w("")
        for e in res["errors"]:
            w(f"- `{_md(e)}`")
        w("")

    loads = meta["loads"]
    w("### Setup")
    w("")
    w(f"- Data (`{meta['data_dir']}`, written by the script with PyIceberg when missing"
      + (f"; this run wrote {', '.join(f'{k} in {v:.0f} s' for k, v in meta['gen_s'].items())}" if meta["gen_s"] else "; reused")
      + f"): `{NS}.lineitem` TPC-H SF {meta['sf']} from tpchgen-cli, partitioned by `day(l_shipdate)`, each file sorted "
      f"by `l_orderkey`, written in one append ({meta['lineitem_files']:,} files, {_fmt_bytes(meta['lineitem_bytes'])}); "
      f"`{NS}.wide` ({_plural(meta['wide_files'], 'file')}, {_fmt_bytes(meta['wide_bytes'])}); `{NS}.manyfiles` "
      f"({meta['plan_files']:,} files of {meta['plan_rows_per_file']} rows). PyIceberg's default Parquet settings "
      f"(zstd, row groups up to 1M rows): lineitem's files hold one row group each.")
    w(f"- lakeflight: `lakeflight serve` on 127.0.0.1 (port 0) with `GOMAXPROCS={meta['threads']}`, SQLite catalog, "
      f"local warehouse, `--metrics-listen` for the storage counters"
      + (f", `{shlex.join(meta['lakeflight_args'])}`" if meta["lakeflight_args"] else "")
      + "; defaults otherwise (`--max-endpoints 4`, `--manifest-cache 128MiB`, `--footer-cache 64MiB`). "
      f"DuckDB {meta['versions'].get('DuckDB (Python)', '?')}: in memory, "
      f"`SET threads={meta['threads']}`, views `CREATE VIEW {NS}.T AS SELECT cols FROM read_parquet([files], "
      f"hive_partitioning=false)` over the files of the table's current snapshot; its settings as they come "
      f"({meta['duck_settings']}).")
    w(f"- Machine load (1-minute load average) during the measurements: "
      + (f"{min(loads):.1f} to {max(loads):.1f}, median {statistics.median(loads):.1f}, on "
         f"{meta['machine'].get('nproc', '?')} CPUs" if loads else "not recorded")
      + (" — other work shared the machine, so the times are noisier (and slower) than on an idle one; the engines "
         "alternate so that they see the same load." if loads and max(loads) > float(meta["threads"]) + 0.5 else ".")
      + f" Load before the run: {meta['load_before']:.1f}.")
    w("- Machine: " + ", ".join(f"{k} {v}" for k, v in meta["machine"].items()) + ".")
    w("- Versions: " + ", ".join(f"{k} {v}" for k, v in meta["versions"].items()) + ".")
    w(f"- Run {meta['started']} (UTC), {meta['elapsed_s'] / 60:.1f} minutes in all. Command:")
    w("")
    w("```sh")
    w(meta["command"])
    w("```")
    w("")
    w("How to run it and what it measures: [bench/scan/README.md](../bench/scan/README.md).")
    w("")
    return "\n".join(L)


def write_section(out: Path, text: str) -> None:
    """Replaces the level-2 section whose title starts with 'Scan benchmarks'
    (up to the next level-2 heading), or appends it; the rest of the file
    stays as it is."""
    old = out.read_text() if out.exists() else "# Benchmarks\n"
    lines = old.splitlines()
    start = next((i for i, l in enumerate(lines) if l.startswith(SECTION_PREFIX)), None)
    new_lines = text.rstrip("\n").splitlines()
    if start is None:
        while lines and not lines[-1].strip():
            lines.pop()
        lines += [""] + new_lines
    else:
        end = next((j for j in range(start + 1, len(lines)) if lines[j].startswith("## ")), len(lines))
        tail = lines[end:]
        lines = lines[:start] + new_lines + ([""] + tail if tail else [])
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")


def plot(res: dict, png: Path, title: str) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.ticker import FuncFormatter
    except ImportError:
        log("matplotlib is not importable: no plot")
        return False
    colors = {"lakeflight": "#1f77b4", "DuckDB": "#ff7f0e", "PyIceberg": "#2ca02c"}
    red = "#d62728"
    num = FuncFormatter(lambda v, _: f"{v:g}")

    def grouped(ax, groups: list[str], series: list[tuple[str, str, list]], fmt, log_scale=False):
        """series: (label, color, one value per group; None = no figure)."""
        n = len(series)
        width = 0.8 / max(n, 1)
        top = max([v for _, _, vs in series for v in vs if v] + [1e-9])
        for i, (label, color, vals) in enumerate(series):
            xs = [g + (i - (n - 1) / 2) * width for g in range(len(groups))]
            b = ax.bar(xs, [v or 0 for v in vals], width * 0.95, color=color, edgecolor="black", linewidth=0.4, label=label)
            for bb, v in zip(b, vals):
                y = (v if v else (1 if log_scale else 0)) * (1.08 if log_scale else 1) + (0 if log_scale else top * 0.01)
                ax.text(bb.get_x() + bb.get_width() / 2, y, "n/a" if v is None else fmt(v),
                        ha="center", va="bottom", fontsize=7, rotation=0)
        ax.set_xticks(range(len(groups)))
        ax.set_xticklabels(groups, fontsize=8)
        if log_scale:
            ax.set_yscale("log")
            ax.yaxis.set_major_formatter(num)
            ax.set_ylim(top=top * 4)
        else:
            ax.set_ylim(top=top * 1.25)
        ax.grid(axis="y", alpha=0.25, which="both")

    ms = lambda v: f"{v:,.0f}" if v >= 100 else f"{v:.1f}"  # noqa: E731
    fig, axes = plt.subplots(2, 3, figsize=(16, 9), dpi=100)

    # 1. selective query times, per engine
    def _panel0():
        ax = axes[0][0]
        sel = res["selective"]
        engines = [t.engine for t in sel[0]["timings"]] if sel else []
        grouped(ax, [q["name"] for q in sel],
                [(e, colors.get(e, "#7f7f7f"), [q["timings"][i].median_ms for q in sel]) for i, e in enumerate(engines)],
                ms, log_scale=True)
        ticks = ax.set_xticklabels([q["name"] + ("" if q["ratio_duck"] is None else
                                    f"\nlakeflight/DuckDB {q['ratio_duck']:.2f}x")
                                    for q in sel], fontsize=8)
        for tick, q in zip(ticks, sel):
            if q["ratio_duck"] is not None:
                tick.set_color("#2ca02c" if q["ratio_duck"] <= T_SELECTIVE_RATIO else red)
        ax.set_ylabel("median ms, end to end (log)", fontsize=8)
        ax.set_title(f"selective queries on lineitem (target: lakeflight/DuckDB <= {T_SELECTIVE_RATIO:g})", fontsize=9.5)
        ax.legend(fontsize=7.5, loc="upper left")

    # 2. bytes read vs the matching row groups' chunks
    def _panel1():
        sel = res["selective"]
        ax = axes[0][1]
        grouped(ax, [q["name"] for q in sel], [
            ("EXPLAIN ANALYZE bytes_read", colors["lakeflight"], [q["bytes_ratio"] for q in sel]),
            ("storage counter (all reads)", "#aec7e8",
             [q["storage_bytes"] / q["ref_bytes"] if q["storage_bytes"] and q["ref_bytes"] else None for q in sel]),
        ], lambda v: f"{v:.2f}x")
        ax.axhline(T_BYTES_RATIO, color=red, linestyle="--", linewidth=1, label=f"target {T_BYTES_RATIO:g}x")
        ax.axhline(1.0, color="black", linewidth=0.6)
        ax.set_ylabel("lakeflight bytes / chunks of matching row groups", fontsize=8)
        ax.set_title("bytes read vs what the filter needs", fontsize=9.5)
        ax.legend(fontsize=7.5, loc="upper left")

    # 3. struct leaf share
    def _panel2():
        ax = axes[0][2]
        st = res["struct"]
        grouped(ax, [f"rec.{lv['leaf']}" for lv in st["leaves"]], [
            ("lakeflight bytes_read", colors["lakeflight"], [None if lv["share"] is None else 100 * lv["share"] for lv in st["leaves"]]),
            ("the leaf's Parquet chunks", "#c7c7c7", [None if lv["ref_share"] is None else 100 * lv["ref_share"] for lv in st["leaves"]]),
        ], lambda v: f"{v:.2f}%")
        ax.axhline(100 * T_LEAF_SHARE, color=red, linestyle="--", linewidth=1, label=f"target {100 * T_LEAF_SHARE:g}%")
        ax.set_ylim(top=max(ax.get_ylim()[1], 100 * T_LEAF_SHARE * 1.3))
        ax.set_ylabel("% of the whole struct's bytes", fontsize=8)
        ax.set_title(f"one leaf of the {WIDE_FIELDS}-field struct", fontsize=9.5)
        ax.legend(fontsize=7.5, loc="upper left")

    # 4. streaming throughput
    def _panel3():
        ax = axes[1][0]
        streams = res["stream"]
        names = [t.engine for t in streams[0]["timings"]] if streams else []
        short = {n: n.replace("endpoints in parallel", "parallel").replace("endpoints one after another", "serial") for n in names}
        palette = ["#1f77b4", "#aec7e8", "#ff7f0e", "#2ca02c"]
        grouped(ax, [s["table"] + (" (largest)" if s["table"] == res["stream_largest"] else "") for s in streams],
                [(short[n], palette[i % len(palette)], [s["timings"][i].gbps for s in streams]) for i, n in enumerate(names)],
                lambda v: f"{v:.2f}")
        ax.axhline(T_STREAM_GBPS, color=red, linestyle="--", linewidth=1, label=f"target {T_STREAM_GBPS:g} GB/s")
        ax.set_ylim(top=max(ax.get_ylim()[1], T_STREAM_GBPS * 1.2))
        ax.set_ylabel("GB/s of Arrow buffers received", fontsize=8)
        ax.set_title("full-scan throughput", fontsize=9.5)
        ax.legend(fontsize=7, loc="upper right")

    # 5-6. planning
    def _panel4():
        pl = res["planning"]["queries"]
        for ax, key in ((axes[1][1], "all"), (axes[1][2], "point")):
            q = pl[key]
            labels = ["lakeflight\nwarm (same)", "lakeflight\nwarm (new N)", "lakeflight\ncold",
                      "PyIceberg\nwarm", "PyIceberg\ncold", "PyIceberg cold\n+load_table"]
            ts = [q["warm"], pl[key + "_miss"]["warm"], q["cold"], q["pyiceberg_warm"], q["pyiceberg_cold"], q["pyiceberg_cold_load"]]
            vals = [t.median_ms for t in ts]
            cols = [colors["lakeflight"]] * 3 + [colors["PyIceberg"]] * 2 + ["#98df8a"]
            b = ax.bar(range(len(vals)), [v or 0 for v in vals], color=cols, edgecolor="black", linewidth=0.4)
            for bb, v in zip(b, vals):
                ax.text(bb.get_x() + bb.get_width() / 2, (v or 1) * 1.08, "n/a" if v is None else ms(v),
                        ha="center", va="bottom", fontsize=7.5)
            ax.set_xticks(range(len(vals)))
            ax.set_xticklabels(labels, fontsize=7.5)
            ax.set_yscale("log")
            ax.yaxis.set_major_formatter(num)
            ax.axhline(T_WARM_PLAN_MS, color=red, linestyle="--", linewidth=1, label=f"warm target {T_WARM_PLAN_MS:g} ms")
            if q["pyiceberg_cold"].median_ms:
                ax.axhline(q["pyiceberg_cold"].median_ms / T_COLD_PLAN_SPEEDUP, color="#9467bd", linestyle=":", linewidth=1.2,
                           label=f"cold target: PyIceberg cold / {T_COLD_PLAN_SPEEDUP:g}")
            top = max([v for v in vals if v] + [T_WARM_PLAN_MS])
            ax.set_ylim(top=top * 4)
            ax.set_ylabel("ms (log)", fontsize=8)
            ax.set_title(f"planning: {q['sql'].replace(f'{NS}.', '')}\n"
                         f"({res['planning']['files']:,} files, {res['planning']['manifests']} manifests)", fontsize=9)
            ax.legend(fontsize=7, loc="upper left")
            ax.grid(axis="y", alpha=0.25, which="both")

    for panel, pax in ((_panel0, [axes[0][0]]), (_panel1, [axes[0][1]]), (_panel2, [axes[0][2]]),
                       (_panel3, [axes[1][0]]), (_panel4, [axes[1][1], axes[1][2]])):
        try:
            panel()
        except Exception as e:  # noqa: BLE001 - a failed measurement leaves its panel empty
            for x in pax:
                x.cla()
                x.text(0.5, 0.5, f"not measured\n({type(e).__name__})", ha="center", va="center", transform=x.transAxes)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png)
    plt.close(fig)
    return True


# ====================================================================== main
def finish(res: dict, meta: dict, out: Path, png: Path, json_path: str | None) -> None:
    made = plot(res, png, f"lakeflight scan benchmarks (lineitem SF {meta['sf']}, {meta['wide_rows']:,}-row struct table, "
                          f"{meta['plan_files']:,}-file planning table; {meta['threads']} threads)")
    write_section(out, section(res, meta, png if made else None, out))
    if json_path:
        def enc(o):
            if isinstance(o, Timing):
                return {**{k: v for k, v in o.__dict__.items() if k != "result"}, "median_ms": o.median_ms, "gbps": o.gbps}
            return str(o)

        Path(json_path).write_text(json.dumps({"meta": meta, "results": res}, indent=2, default=enc))
    for name, fig, ok in targets(res):
        log(f"{'MET    ' if ok else ('NOT MET' if ok is not None else 'n/a    ')} {name}: {fig}")
    log(f"report {out}" + (f", plot {png}" if made else ""))


def load_json(path: Path) -> tuple[dict, dict]:
    """Results and meta of a --json file, Timings rebuilt."""
    import dataclasses

    names = {f.name for f in dataclasses.fields(Timing)}

    def dec(o):
        if isinstance(o, dict):
            if {"engine", "command", "times_ms"} <= o.keys():
                return Timing(**{k: v for k, v in o.items() if k in names})
            return {k: dec(v) for k, v in o.items()}
        if isinstance(o, list):
            return [dec(x) for x in o]
        return o

    data = json.loads(path.read_text())
    return dec(data["results"]), data["meta"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dir", help="data folder: catalog.db and warehouse/ (tables written when missing); required")
    ap.add_argument("--sf", type=float, default=1.0, help="TPC-H scale factor of lineitem (default 1)")
    ap.add_argument("--wide-rows", type=int, default=1_000_000, help="rows of the struct table (default 1000000)")
    ap.add_argument("--plan-files", type=int, default=10_000, help="data files of the planning table (default 10000)")
    ap.add_argument("--plan-manifests", type=int, default=100, help="appends (manifests) they are written in (default 100)")
    ap.add_argument("--plan-rows-per-file", type=int, default=100, help="rows per planning-table file (default 100)")
    ap.add_argument("--runs", type=int, default=3, help="timed runs per measurement and engine after one warm-up (default 3)")
    ap.add_argument("--plan-runs", type=int, default=20, help="timed warm planning runs (default 20)")
    ap.add_argument("--week", default="1995-06-01", help="first day of the one-week l_shipdate range (default 1995-06-01)")
    ap.add_argument("--orderkey", type=int, default=None, help="l_orderkey of the point query (default: one in the middle)")
    ap.add_argument("--leaves", default="f00,f01,f02", help="struct leaves measured (default f00,f01,f02: int, double, string)")
    ap.add_argument("--stream-tables", default="lineitem,wide", help="tables scanned for throughput (default lineitem,wide)")
    ap.add_argument("--timeout", type=float, default=600, help="seconds per run before it is cancelled (default 600)")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="GOMAXPROCS of lakeflight and DuckDB threads (default nproc)")
    ap.add_argument("--out", default=str(REPO / "docs" / "benchmarks.md"), help="Markdown file whose scan section is written (default docs/benchmarks.md)")
    ap.add_argument("--plot", default=None, help="PNG (default benchmarks-scan-sfSF.png beside --out)")
    ap.add_argument("--lakeflight-bin", default=str(REPO / "bin" / "lakeflight"), help="binary (built when missing; default bin/lakeflight)")
    ap.add_argument("--rev", default=None, help="build lakeflight from this git revision in a clean clone instead")
    ap.add_argument("--lakeflight-arg", action="append", default=[], metavar="ARG",
                    help="extra argument for lakeflight serve, repeatable (e.g. --lakeflight-arg=--footer-cache=512MiB)")
    ap.add_argument("--data-only", action="store_true", help="write the missing tables and stop")
    ap.add_argument("--json", default=None, help="also write the raw results as JSON here")
    ap.add_argument("--report-from", default=None, metavar="JSON",
                    help="measure nothing: write the report and plot from a --json file of an earlier run")
    args = ap.parse_args(argv)
    if not args.dir and not args.report_from:
        ap.error("--dir is required")
    bad = [t for t in args.stream_tables.split(",") if t.strip() and t.strip() not in ("lineitem", "wide")]
    if bad:
        ap.error(f"--stream-tables: {', '.join(bad)}: only lineitem and wide")

    started = dt.datetime.now(dt.timezone.utc)
    t_start = time.monotonic()
    load_before = os.getloadavg()[0]
    data_dir = Path(args.dir or ".").resolve()
    out = Path(args.out).resolve()
    sf_tag = make_tpch._fmt_sf(args.sf).replace(".", "_")
    png = Path(args.plot).resolve() if args.plot else out.parent / f"benchmarks-scan-sf{sf_tag}.png"

    if args.report_from:
        res, meta = load_json(Path(args.report_from))
        finish(res, meta, out, png, None)
        return 0

    t0 = time.monotonic()
    gen_s = ensure_data(data_dir, args)
    log(f"data ready in {time.monotonic() - t0:.1f}s" + ("" if gen_s else " (all tables reused)"))
    if args.data_only:
        return 0

    if args.rev:
        binary = tb.build_rev(args.rev, data_dir)
    else:
        binary = str(Path(args.lakeflight_bin).resolve())
        if not os.path.exists(binary):
            log(f"building {binary}")
            subprocess.run(["go", "build", "-o", binary, "./cmd/lakeflight"], cwd=REPO, check=True)

    ctx = Ctx(args, binary, data_dir)
    ctx.start()
    res: dict[str, Any] = {"errors": []}

    def guarded(what: str, fn):
        """A measurement that fails is reported and the run goes on."""
        try:
            return fn()
        except Exception as e:  # noqa: BLE001
            import traceback

            log(f"{what} FAILED:\n{traceback.format_exc()}")
            res["errors"].append(f"{what}: {tb._error_text(e)}")
            if not ctx.server.alive():
                res["errors"].append(f"lakeflight had exited; log tail: {tb._one_line(ctx.server.log_tail(8), 600)}")
                ctx.restart()
            return None

    try:
        okey = args.orderkey
        if okey is None:  # TPC-H order keys: (k - 1) % 32 < 8; one near the middle
            okey = ((int(3_000_000 * args.sf) - 1) // 32) * 32 + 4
        d0 = dt.date.fromisoformat(args.week)
        d1 = d0 + dt.timedelta(days=7)
        from pyiceberg.expressions import And, EqualTo, GreaterThanOrEqual, LessThan

        week_cols = ["l_orderkey", "l_partkey", "l_extendedprice", "l_discount", "l_shipdate"]
        point_cols = ["l_orderkey", "l_linenumber", "l_quantity", "l_extendedprice", "l_shipdate"]
        res["selective"] = [r for r in [
            guarded("one week of l_shipdate", lambda: selective(ctx, "one week of l_shipdate",
                      f"SELECT {', '.join(week_cols)} FROM {{t}} WHERE l_shipdate >= DATE '{d0}' AND l_shipdate < DATE '{d1}'",
                      week_cols, "l_shipdate",
                      And(GreaterThanOrEqual("l_shipdate", str(d0)), LessThan("l_shipdate", str(d1))),
                      f"table.scan(row_filter=And(GreaterThanOrEqual('l_shipdate', '{d0}'), LessThan('l_shipdate', '{d1}')), "
                      f"selected_fields={tuple(week_cols)}).to_arrow()",
                      lambda lo, hi: lo < d1 and hi >= d0)),
            guarded("l_orderkey point query", lambda: selective(ctx, "l_orderkey point query",
                      f"SELECT {', '.join(point_cols)} FROM {{t}} WHERE l_orderkey = {okey}",
                      point_cols, "l_orderkey", EqualTo("l_orderkey", okey),
                      f"table.scan(row_filter=EqualTo('l_orderkey', {okey}), selected_fields={tuple(point_cols)}).to_arrow()",
                      lambda lo, hi: lo <= okey <= hi)),
        ] if r is not None]
        res["struct"] = guarded("struct leaf", lambda: struct_leaf(ctx, [x.strip() for x in args.leaves.split(",") if x.strip()]))
        stream_tables = [t.strip() for t in args.stream_tables.split(",") if t.strip()]
        # The largest by Parquet bytes (snapshot summary), whatever happens to its scan.
        res["stream_largest"] = max(stream_tables, key=lambda t: int(
            ctx.tables[t].current_snapshot().summary["total-files-size"])) if stream_tables else None
        res["stream"] = [r for r in (guarded(f"streaming {t}", lambda t=t: streaming(ctx, t)) for t in stream_tables)
                         if r is not None]
        res["planning"] = guarded("planning", lambda: planning(ctx, args))
    finally:
        ctx.close()

    snap = {n: ctx.tables[n].current_snapshot().summary for n in ("lineitem", "wide")}
    duck_settings = "—"
    try:
        import duckdb

        con = duckdb.connect()
        got = con.execute("SELECT name, value FROM duckdb_settings() WHERE name IN "
                          "('enable_external_file_cache', 'parquet_metadata_cache', 'enable_object_cache')").fetchall()
        duck_settings = ", ".join(f"`{k}={v}`" for k, v in sorted(got))
        con.close()
    except Exception:  # noqa: BLE001
        pass
    meta = {
        "sf": make_tpch._fmt_sf(args.sf), "runs": args.runs, "threads": args.threads,
        "wide_rows": args.wide_rows, "plan_files": args.plan_files, "plan_manifests": args.plan_manifests,
        "plan_rows_per_file": args.plan_rows_per_file,
        "lineitem_files": int(snap["lineitem"]["total-data-files"]), "lineitem_bytes": int(snap["lineitem"]["total-files-size"]),
        "wide_files": int(snap["wide"]["total-data-files"]), "wide_bytes": int(snap["wide"]["total-files-size"]),
        "data_dir": str(data_dir), "gen_s": gen_s, "lakeflight_args": args.lakeflight_arg, "loads": ctx.runner.loads, "load_before": load_before,
        "machine": tb.machine_info(), "versions": tb.versions(binary), "duck_settings": duck_settings,
        "started": started.strftime("%Y-%m-%d %H:%M"), "elapsed_s": time.monotonic() - t_start,
        "command": shlex.join([".venv/bin/python", os.path.relpath(__file__, REPO)] + (sys.argv[1:] if argv is None else argv)),
    }
    finish(res, meta, out, png, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
