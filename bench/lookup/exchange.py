#!/usr/bin/env python3
"""Throughput and latency of the lookup service (Flight DoExchange) over
loopback, from Python.

    .venv/bin/python bench/lookup/exchange.py --dir /tmp/lookupbench --rows 10000000 --keys 2000000

Writes (once per --rows, with PyIceberg) a dimension table bench.dim of
--rows rows keyed by k (int64 1..rows) with a string, a double and an int
column; starts lakeflight over it; draws --keys probe keys from a Zipf(1.0)
distribution over the rows (rank r is key perm[r] for a random permutation,
so hot keys are spread over the table); and streams them in --batch-key
batches (default 1,000) through --streams exchanges at once, each keeping
up to --window batches in flight. For each mode it reports:

  load      the first exchange's first answer (a FULL index is loaded then)
  keys/s    probe keys answered per second of wall time, after a warm-up pass
  p50, p99  latency of a batch: from writing it to reading its answer

Nothing is asserted; the figures go to stdout (and --json FILE).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.flight as flight
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.schema import Schema
from pyiceberg.types import DoubleType, IntegerType, LongType, NestedField, StringType

REPO = Path(__file__).resolve().parents[2]
TABLE = "bench.dim"
LISTEN_RE = re.compile(r"listening on grpc://(\S+?):(\d+)\b")


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def catalog(d: Path) -> SqlCatalog:
    return SqlCatalog("default", uri=f"sqlite:///{d}/catalog.db", warehouse=f"file://{d}/warehouse")


def ensure_table(d: Path, rows: int) -> None:
    """bench.dim with `rows` rows, written in chunks of 1M rows unless
    already there."""
    d.mkdir(parents=True, exist_ok=True)
    cat = catalog(d)
    if cat.table_exists(TABLE):
        tbl = cat.load_table(TABLE)
        have = int(tbl.current_snapshot().summary["total-records"])
        if have == rows:
            log(f"reusing {TABLE} of {rows} rows in {d}")
            return
        raise SystemExit(f"{d} holds {TABLE} with {have} rows, not {rows}: use another --dir")
    if ("bench",) not in cat.list_namespaces():
        cat.create_namespace("bench")
    schema = Schema(
        NestedField(1, "k", LongType(), required=True),
        NestedField(2, "name", StringType(), required=False),
        NestedField(3, "price", DoubleType(), required=False),
        NestedField(4, "qty", IntegerType(), required=False),
        identifier_field_ids=[1],
    )
    tbl = cat.create_table(TABLE, schema)
    arrow_schema = pa.schema([pa.field("k", pa.int64(), nullable=False), pa.field("name", pa.string()),
                              pa.field("price", pa.float64()), pa.field("qty", pa.int32())])
    start = time.monotonic()
    rng = np.random.default_rng(7)
    chunk = 1_000_000
    for lo in range(1, rows + 1, chunk):
        hi = min(lo + chunk, rows + 1)
        k = np.arange(lo, hi, dtype=np.int64)
        t = pa.table({
            "k": k,
            "name": pa.array([f"item-{x:09d}" for x in k.tolist()], pa.string()),
            "price": rng.random(len(k)) * 100,
            "qty": rng.integers(0, 1000, len(k), dtype=np.int32),
        }, schema=arrow_schema)
        tbl.append(t)
        log(f"wrote rows {lo}..{hi - 1}")
    log(f"{TABLE}: {rows} rows in {time.monotonic() - start:.0f}s")


def zipf_keys(rows: int, n: int, seed: int = 11) -> np.ndarray:
    """n keys in 1..rows drawn from Zipf(1.0) over ranks, rank r mapped to
    a random key."""
    rng = np.random.default_rng(seed)
    cdf = np.cumsum(1.0 / np.arange(1, rows + 1, dtype=np.float64))
    cdf /= cdf[-1]
    ranks = np.searchsorted(cdf, rng.random(n), side="left")
    perm = rng.permutation(rows).astype(np.int64) + 1
    return perm[np.minimum(ranks, rows - 1)]


class Server:
    def __init__(self, binary: str, d: Path, memory: str, cache_bytes: str, log_path: Path):
        cfg = d / "lakeflight.yaml"
        cfg.write_text(f"lookup:\n  memory: {memory}\n  cache_bytes: {cache_bytes}\n  refresh: 10s\n")
        self.argv = [binary, "serve", "--catalog-uri", f"sqlite:///{d}/catalog.db", "--warehouse", f"file://{d}/warehouse",
                     "--listen", "127.0.0.1:0", "--config", str(cfg), "--log-level", "warn"]
        self.log = open(log_path, "w")
        self.proc = subprocess.Popen(self.argv, stdout=subprocess.PIPE, stderr=self.log, text=True, start_new_session=True)
        deadline = time.monotonic() + 60
        self.uri = ""
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            m = LISTEN_RE.search(line)
            if m:
                self.uri = f"grpc://{m.group(1)}:{m.group(2)}"
                break
        if not self.uri:
            self.stop()
            raise SystemExit(f"lakeflight did not start; see {log_path}")
        threading.Thread(target=lambda: [None for _ in self.proc.stdout], daemon=True).start()

    def hwm_mib(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, 15)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, 9)
        self.log.close()


def stream(uri: str, mode: str, keys: np.ndarray, batch: int, window: int,
           table: str = TABLE, key: str = "k", columns: tuple[str, ...] = ("name", "price", "qty")) -> tuple[list[float], float]:
    """One exchange of keys in batches, up to window batches in flight.
    Returns each batch's latency and the time to the first answer."""
    client = flight.FlightClient(uri)
    req = json.dumps({"lookup": table, "keys": [key], "columns": list(columns), "mode": mode}).encode()
    writer, reader = client.do_exchange(flight.FlightDescriptor.for_command(req))
    schema = pa.schema([pa.field(key, pa.int64())])
    writer.begin(schema)
    n = (len(keys) + batch - 1) // batch
    # The batches are made before the clock starts: a streaming job has its
    # keys in Arrow already; what is measured is the service.
    batches = [pa.record_batch([pa.array(keys[i * batch:(i + 1) * batch])], schema=schema) for i in range(n)]
    sent_at = [0.0] * n
    slots = threading.Semaphore(window)
    err: list[BaseException] = []

    def write():
        try:
            for i, b in enumerate(batches):
                slots.acquire()
                sent_at[i] = time.perf_counter()
                writer.write_batch(b)
            writer.done_writing()
        except BaseException as e:  # noqa: BLE001
            err.append(e)

    start = time.perf_counter()
    th = threading.Thread(target=write, daemon=True)
    th.start()
    lat = []
    first = 0.0
    for i in range(n):
        chunk = reader.read_chunk()
        now = time.perf_counter()
        if i == 0:
            first = now - start
        lat.append(now - sent_at[i])
        slots.release()
        if chunk.data.num_rows != min(batch, len(keys) - i * batch):
            raise SystemExit(f"answer {i} has {chunk.data.num_rows} rows")
    th.join()
    writer.close()
    client.close()
    if err:
        raise err[0]
    return lat, first


def run_mode(uri: str, mode: str, keys: np.ndarray, batch: int, window: int, streams: int, **target) -> dict:
    """Keys per second and batch latencies of keys through streams exchanges;
    target (table, key, columns) names what is looked up (default
    bench.dim's)."""
    # Warm-up: loads a FULL index (timed as load) and warms a PARTIAL cache
    # the way the measured pass would.
    warm = keys[: min(len(keys), 200_000)]
    t0 = time.perf_counter()
    _, first = stream(uri, mode, warm[:batch], batch, window, **target)
    load = time.perf_counter() - t0
    stream(uri, mode, warm, batch, window, **target)
    parts = np.array_split(keys, streams)
    lats: list[list[float]] = [[] for _ in parts]
    errs: list[BaseException] = []

    def one(i):
        try:
            lats[i], _ = stream(uri, mode, parts[i], batch, window, **target)
        except BaseException as e:  # noqa: BLE001
            errs.append(e)

    start = time.perf_counter()
    ths = [threading.Thread(target=one, args=(i,)) for i in range(len(parts))]
    for t in ths:
        t.start()
    for t in ths:
        t.join()
    wall = time.perf_counter() - start
    if errs:
        raise errs[0]
    all_lat = np.array([x for l in lats for x in l]) * 1000
    return {"mode": mode, "keys": int(len(keys)), "batch": batch, "streams": streams, "window": window,
            "load_s": round(load, 3), "first_answer_s": round(first, 3), "wall_s": round(wall, 3),
            "keys_per_s": round(len(keys) / wall), "p50_ms": round(float(np.percentile(all_lat, 50)), 2),
            "p99_ms": round(float(np.percentile(all_lat, 99)), 2), "max_ms": round(float(all_lat.max()), 2)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dir", type=Path, default=Path("/tmp/lookupbench"), help="where the table and logs go")
    ap.add_argument("--rows", type=int, default=10_000_000, help="rows of the dimension table")
    ap.add_argument("--keys", type=int, default=2_000_000, help="probe keys looked up")
    ap.add_argument("--batch", type=int, default=1000, help="keys per batch")
    ap.add_argument("--window", type=int, default=8, help="batches in flight per exchange")
    ap.add_argument("--streams", type=int, default=1, help="exchanges at once")
    ap.add_argument("--modes", default="full,partial", help="comma-separated: full, partial, none")
    ap.add_argument("--memory", default="8GiB", help="--lookup-memory of the server")
    ap.add_argument("--cache-bytes", default="256MiB", help="bound of a partial cache")
    ap.add_argument("--bin", help="lakeflight binary (default: go build ./cmd/lakeflight into --dir)")
    ap.add_argument("--json", type=Path, help="also write the results here")
    args = ap.parse_args()

    d = args.dir.resolve()
    ensure_table(d / f"rows{args.rows}", args.rows)
    binary = args.bin
    if not binary:
        binary = str(d / "lakeflight")
        log("building lakeflight")
        subprocess.run([shutil.which("go") or "go", "build", "-o", binary, "./cmd/lakeflight"], cwd=REPO, check=True)
    keys = zipf_keys(args.rows, args.keys)
    distinct = len(np.unique(keys))
    log(f"{args.keys} Zipf(1.0) keys over {args.rows} rows: {distinct} distinct")
    results = []
    for mode in args.modes.split(","):
        srv = Server(binary, d / f"rows{args.rows}", args.memory, args.cache_bytes, d / f"server-{mode}.log")
        try:
            r = run_mode(srv.uri, mode, keys, args.batch, args.window, args.streams)
            r.update(rows=args.rows, distinct_keys=distinct, server_hwm_mib=round(srv.hwm_mib()))
        finally:
            srv.stop()
        print(json.dumps(r), flush=True)
        results.append(r)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
