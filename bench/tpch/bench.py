#!/usr/bin/env python3
"""TPC-H through lakeflight and DuckDB over the same Parquet files.

    .venv/bin/python bench/tpch/bench.py --sf 1 --dir DIR [--runs 3] [--timeout 300]
                                         [--out docs/benchmarks.md]

1. If DIR holds no catalog.db, writes TPC-H at scale factor --sf as Iceberg
   tables with bench/tpch/make_tpch.py (namespace tpch).
2. Starts lakeflight on it (loopback, port 0, GOMAXPROCS=--threads) and
   connects with ADBC (adbc_driver_flightsql.dbapi).
3. Opens an in-memory DuckDB (SET threads=--threads) whose views
   tpch.TABLE read the SAME Parquet data files as the Iceberg tables'
   current snapshots (read_parquet over the files PyIceberg lists).
4. Runs q01..q22 of clients/python/corpus/tpch.sql on both: one warm-up run,
   then --runs timed runs; a query's time is the median, end to end
   (execute + fetch of the whole result as Arrow). An error or a timeout is
   recorded with its message and the run goes on.
5. Compares the two warm-up answers (row counts, values; numbers with a
   relative tolerance of 1e-9) and marks mismatches.
6. Writes --out (Markdown: per-query times and ratios, the geometric mean
   ratio, peak RSS of lakeflight, machine and versions, the command) and a
   PNG of the per-query ratios beside it (when matplotlib is importable).

It is a benchmark, not a test: no test suite or CI runs it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import decimal
import json
import math
import os
import platform
import re
import shlex
import signal
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
CORPUS = REPO / "clients" / "python" / "corpus" / "tpch.sql"
sys.path.insert(0, str(HERE))

import make_tpch  # noqa: E402

QUERY_NAMES = [f"q{i:02d}" for i in range(1, 23)]
REL_TOL = 1e-9
ABS_TOL = 1e-6
TARGET_GEOMEAN = 3.0
TARGET_MAX = 10.0


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------ queries
_NAME_RE = re.compile(r"^--\s*name:\s*(\S+)\s*$")


def load_queries(path: Path, names: list[str]) -> dict[str, str]:
    """The statements named `names` in a corpus file: a '-- name: NAME' line,
    then SQL lines up to one ending with ';' (other '--' lines are comments)."""
    found: dict[str, str] = {}
    name, buf = None, []
    for raw in path.read_text().splitlines():
        line = raw.rstrip()
        m = _NAME_RE.match(line.strip())
        if m:
            name, buf = m.group(1), []
            continue
        if name is None or not line.strip() or line.strip().startswith("--"):
            continue
        buf.append(line)
        if line.endswith(";"):
            found[name] = "\n".join(buf).rstrip(";").strip()
            name, buf = None, []
    missing = [n for n in names if n not in found]
    if missing:
        raise SystemExit(f"{path}: no query named {', '.join(missing)}")
    return {n: found[n] for n in names}


def has_top_level_order_by(sql: str) -> bool:
    """ORDER BY outside parentheses and string literals: the statement's own."""
    depth, flat, i = 0, [], 0
    while i < len(sql):
        c = sql[i]
        if c == "'":
            j = sql.find("'", i + 1)
            while j >= 0 and sql.startswith("''", j):
                j = sql.find("'", j + 2)
            i = len(sql) if j < 0 else j + 1
            flat.append(" ")
            continue
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        flat.append(c if depth == 0 and c not in "()" else " ")
        i += 1
    return re.search(r"\border\s+by\b", "".join(flat), re.I) is not None


# ------------------------------------------------------------------ result comparison
def _canon(v: Any) -> Any:
    if isinstance(v, dt.datetime):
        return v.astimezone(dt.timezone.utc).replace(tzinfo=None) if v.tzinfo else v
    if isinstance(v, dt.date):
        return dt.datetime(v.year, v.month, v.day)
    return v


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float, decimal.Decimal)) and not isinstance(v, bool)


def _eq(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if _is_num(a) and _is_num(b):
        if isinstance(a, int) and isinstance(b, int):
            return a == b
        if a == b:
            return True
        fa, fb = float(a), float(b)
        if math.isnan(fa) or math.isnan(fb):
            return math.isnan(fa) and math.isnan(fb)
        return math.isclose(fa, fb, rel_tol=REL_TOL, abs_tol=ABS_TOL)
    return type(a) is type(b) and a == b


def _sort_key(row: tuple):
    out = []
    for v in row:
        if v is None:
            out.append((0, 0))
        elif _is_num(v):
            out.append((1, float(v)))
        else:
            out.append((2, str(v)))
    return tuple(out)


def _rows(t) -> list[tuple]:
    cols = [t.column(i).to_pylist() for i in range(t.num_columns)]
    return [tuple(_canon(c[r]) for c in cols) for r in range(t.num_rows)]


def compare(got, want, ordered: bool) -> str | None:
    """None when lakeflight's table `got` has the same answer as DuckDB's
    `want`, else a one-line reason."""
    if got.num_columns != want.num_columns:
        return f"column count: lakeflight {got.num_columns}, duckdb {want.num_columns}"
    if got.num_rows != want.num_rows:
        return f"row count: lakeflight {got.num_rows}, duckdb {want.num_rows}"
    g, w = _rows(got), _rows(want)
    if not ordered:
        g.sort(key=_sort_key)
        w.sort(key=_sort_key)
    for i, (a, b) in enumerate(zip(g, w)):
        bad = [got.column_names[k] for k in range(len(a)) if not _eq(a[k], b[k])]
        if bad:
            sa, sb = repr(a), repr(b)
            return f"row {i} differs in {bad}: lakeflight {sa[:200]} vs duckdb {sb[:200]}"
    return None


# ------------------------------------------------------------------ lakeflight process
class Lakeflight:
    """One `lakeflight serve` process, its URI and its memory peak."""

    def __init__(self, binary: str, data_dir: Path, threads: int, log_path: Path, extra: list[str]):
        self.argv = [
            binary, "serve",
            "--catalog-uri", f"sqlite:///{data_dir}/catalog.db",
            "--warehouse", f"file://{data_dir}/warehouse",
            "--listen", "127.0.0.1:0",
            "--log-level", "warn",
            *extra,
        ]
        self.env = {**os.environ, "GOMAXPROCS": str(threads)}
        self.log_path = log_path
        self.proc: subprocess.Popen | None = None
        self.uri = ""
        self.peak_kib = 0  # VmHWM, the max over every process started
        self.starts = 0

    def start(self, timeout: float = 60) -> None:
        logf = open(self.log_path, "ab")
        logf.write(f"--- start {time.strftime('%H:%M:%S')}: {shlex.join(self.argv)}\n".encode())
        logf.flush()
        self.proc = subprocess.Popen(self.argv, stdout=subprocess.PIPE, stderr=logf, env=self.env)
        logf.close()
        self.starts += 1
        line_box: list[str] = []

        def read_first_line():
            for raw in self.proc.stdout:
                s = raw.decode(errors="replace").strip()
                if "listening on" in s:
                    line_box.append(s)
                    break
            # Keep draining stdout so the server never blocks on a full pipe.
            for _ in self.proc.stdout:
                pass

        threading.Thread(target=read_first_line, daemon=True).start()
        deadline = time.monotonic() + timeout
        while not line_box:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise SystemExit(f"lakeflight did not start; log {self.log_path}:\n{self.log_tail()}")
            time.sleep(0.05)
        m = re.search(r"(grpc\+?\w*://\S+)", line_box[0])
        if not m:
            raise SystemExit(f"cannot parse the listening line: {line_box[0]!r}")
        self.uri = m.group(1)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def _status(self, key: str) -> int:
        try:
            for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
                if line.startswith(key + ":"):
                    return int(line.split()[1])
        except (OSError, ValueError, AttributeError):
            pass
        return 0

    def hwm_kib(self) -> int:
        """VmHWM of the running process; also folds it into peak_kib."""
        if self.alive():
            self.peak_kib = max(self.peak_kib, self._status("VmHWM"))
        return self.peak_kib

    def rss_kib(self) -> int:
        return self._status("VmRSS") if self.alive() else 0

    def cpu_seconds(self) -> float:
        try:
            f = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
            return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError, AttributeError):
            return 0.0

    def wait_idle(self, limit: float) -> bool:
        """Wait until the process burns under 10% of a core over a second
        (a cancelled query has stopped); False if it is still busy at limit."""
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            if not self.alive():
                return True
            c0 = self.cpu_seconds()
            time.sleep(1.0)
            if self.cpu_seconds() - c0 < 0.1:
                return True
        return False

    def stop(self) -> None:
        if self.proc is None:
            return
        self.hwm_kib()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def log_tail(self, n: int = 15) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""


# ------------------------------------------------------------------ running queries
@dataclass
class Side:
    times_ms: list[float] = field(default_factory=list)  # the timed runs
    warmup_ms: float | None = None
    median_ms: float | None = None
    rows: int | None = None
    error: str | None = None  # error or timeout message
    timed_out: bool = False
    cpu_s: list[float] = field(default_factory=list)  # CPU seconds of the engine's process per timed run

    @property
    def cpu_ms(self) -> float | None:
        """Mean CPU time of the timed runs (all threads of the engine's process)."""
        return 1e3 * sum(self.cpu_s) / len(self.cpu_s) if self.cpu_s and self.median_ms is not None else None


@dataclass
class Result:
    name: str
    lf: Side = field(default_factory=Side)
    duck: Side = field(default_factory=Side)
    check: str | None = None  # None: same answer; else the reason
    hwm_after_mib: float | None = None
    notes: list[str] = field(default_factory=list)
    load: list[float] = field(default_factory=list)  # 1-minute load average after each round

    @property
    def ratio(self) -> float | None:
        if self.lf.median_ms is None or self.duck.median_ms is None or self.duck.median_ms <= 0:
            return None
        return self.lf.median_ms / self.duck.median_ms

    @property
    def cpu_ratio(self) -> float | None:
        a, b = self.lf.cpu_ms, self.duck.cpu_ms
        return a / b if a is not None and b else None

    @property
    def status(self) -> str:
        if self.lf.timed_out:
            return "timeout"
        if self.lf.error:
            return "error"
        if self.duck.error:
            return "duckdb error"
        if self.check:
            return "MISMATCH"
        return "ok"


def _one_line(s: str, limit: int = 400) -> str:
    s = " ".join(str(s).split())
    return s if len(s) <= limit else s[: limit - 3] + "..."


def run_timed(fn, cancel, timeout: float):
    """fn() -> (table, ms), with cancel() called when it runs past timeout.
    Returns (table, ms, error, timed_out)."""
    fired = threading.Event()

    def on_timeout():
        fired.set()
        try:
            cancel()
        except Exception:
            pass

    timer = threading.Timer(timeout, on_timeout)
    timer.daemon = True
    t0 = time.perf_counter()
    timer.start()
    try:
        table = fn()
        ms = (time.perf_counter() - t0) * 1e3
        return table, ms, None, False
    except Exception as e:  # noqa: BLE001 - any failure is recorded, never fatal
        ms = (time.perf_counter() - t0) * 1e3
        if fired.is_set() or ms >= timeout * 1e3:
            return None, ms, f"timed out after {timeout:g} s ({type(e).__name__}: {_one_line(e, 200)})", True
        return None, ms, _error_text(e), False
    finally:
        timer.cancel()


def _error_text(e: BaseException) -> str:
    status = getattr(getattr(e, "status_code", None), "name", None)
    vendor = getattr(e, "vendor_code", None)
    head = type(e).__name__
    if status:
        head += f" {status}"
    if vendor is not None:
        head += f" (gRPC {vendor})"
    return f"{head}: {_one_line(e)}"


def record(side: Side, attempt: tuple, warmup: bool) -> Any:
    """Folds one run_timed result into side; returns the table (None on
    failure, or when side had failed already)."""
    table, ms, err, to = attempt
    if warmup:
        side.warmup_ms = ms
    if err:
        side.error = err if warmup else f"timed run failed after a good warm-up: {err}"
        side.timed_out = to
        side.median_ms = None
        return None
    if warmup:
        side.rows = table.num_rows
    else:
        side.times_ms.append(ms)
        side.median_ms = statistics.median(side.times_ms)
    return table


class LakeflightClient:
    def __init__(self, server: Lakeflight, timeout: float):
        self.server = server
        self.timeout = timeout
        self.conn = None

    def connect(self) -> None:
        import adbc_driver_flightsql as fs
        import adbc_driver_flightsql.dbapi as flightsql

        t = str(int(math.ceil(self.timeout)) + 5)  # the watchdog cancels first
        self.conn = flightsql.connect(
            self.server.uri,
            db_kwargs={fs.DatabaseOptions.TIMEOUT_QUERY.value: t, fs.DatabaseOptions.TIMEOUT_FETCH.value: t},
            autocommit=True,  # read-only queries; no transaction round trips
        )

    def close(self) -> None:
        if self.conn is not None:
            try:
                self.conn.close()
            except Exception:
                pass
            self.conn = None

    def reconnect(self) -> None:
        self.close()
        self.connect()

    def once(self, sql: str):
        """One end-to-end run: (table, ms, error, timed_out), and the server's
        CPU seconds it took."""
        box: dict[str, Any] = {}

        def fn():
            cur = self.conn.cursor()
            box["cur"] = cur
            try:
                cur.execute(sql)
                return cur.fetch_arrow_table()
            finally:
                box.pop("cur", None)
                try:
                    cur.close()
                except Exception:
                    pass

        def cancel():
            cur = box.get("cur")
            if cur is not None:
                cur.adbc_cancel()

        c0 = self.server.cpu_seconds()
        got = run_timed(fn, cancel, self.timeout)
        return got, self.server.cpu_seconds() - c0


class DuckRunner:
    def __init__(self, con, timeout: float):
        self.con = con
        self.timeout = timeout

    def once(self, sql: str):
        """(table, ms, error, timed_out), and this process's CPU seconds."""
        c0 = _self_cpu()
        got = run_timed(lambda: self.con.sql(sql).to_arrow_table(), self.con.interrupt, self.timeout)
        return got, _self_cpu() - c0


def _self_cpu() -> float:
    t = os.times()
    return t.user + t.system


def recover(r: Result, server: Lakeflight, client: LakeflightClient) -> None:
    """After a failed lakeflight run: restart a server that died, wait for one
    that still runs a cancelled query (restart it if that takes too long)."""
    if not server.alive():
        code = server.proc.returncode if server.proc else None
        tail = _one_line(server.log_tail(8), 600)
        r.lf.error = f"lakeflight exited (code {code}) during the query; log tail: {tail}"
        r.lf.timed_out = False
        r.notes.append("lakeflight died; restarted it")
        server.stop()
        server.start()
        client.reconnect()
    elif r.lf.timed_out:
        if not server.wait_idle(30):
            r.notes.append("lakeflight kept running the cancelled query; restarted it")
            server.stop()
            server.start()
        client.reconnect()


def duckdb_connection(catalog, threads: int, memory_limit: str | None):
    """In-memory DuckDB with views NAMESPACE.TABLE over the Parquet data files
    of each Iceberg table's current snapshot."""
    import duckdb

    con = duckdb.connect()
    con.execute(f"SET threads = {int(threads)}")
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET default_null_order = 'nulls_last_on_asc_first_on_desc'")  # PostgreSQL's
    if memory_limit:
        con.execute(f"SET memory_limit = '{memory_limit}'")
    ns = make_tpch.NAMESPACE
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {ns}")
    files_per_table = {}
    for table in make_tpch.TABLES:
        tbl = catalog.load_table(f"{ns}.{table}")
        paths = []
        for task in tbl.scan().plan_files():
            if task.delete_files:
                raise SystemExit(f"{ns}.{table} has delete files; DuckDB would read deleted rows")
            p = task.file.file_path
            paths.append(p[len("file://"):] if p.startswith("file://") else p)
        paths.sort()
        files_per_table[table] = len(paths)
        cols = ", ".join(tbl.schema().column_names)
        lst = ", ".join("'" + p.replace("'", "''") + "'" for p in paths)
        # hive_partitioning off: Iceberg's data paths look like
        # l_shipdate_year=1995/..., which would add a column.
        con.execute(
            f"CREATE VIEW {ns}.{table} AS SELECT {cols} FROM read_parquet([{lst}], hive_partitioning = false)"
        )
    return con, files_per_table


# ------------------------------------------------------------------ machine and versions
def machine_info() -> dict[str, str]:
    info = {"nproc": str(os.cpu_count())}
    try:
        info["nproc"] = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip() or info["nproc"]
    except OSError:
        pass
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
        m = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.M)
        info["cpu"] = m.group(1).strip() if m else "?"
        flags = re.search(r"^flags\s*:\s*(.+)$", cpuinfo, re.M)
        if flags:
            fl = flags.group(1).split()
            info["simd"] = " ".join(f for f in ("sse4_2", "avx", "avx2", "avx512f") if f in fl)
    except OSError:
        info["cpu"] = "?"
    try:
        m = re.search(r"^MemTotal:\s*(\d+)", Path("/proc/meminfo").read_text(), re.M)
        info["memory"] = f"{int(m.group(1)) / 2**20:.1f} GiB"
    except (OSError, AttributeError):
        pass
    info["kernel"] = platform.release()
    return info


def versions(binary: str) -> dict[str, str]:
    import adbc_driver_flightsql
    import duckdb
    import pyarrow
    import pyiceberg

    def out(argv):
        try:
            return subprocess.run(argv, capture_output=True, text=True, cwd=REPO, timeout=30).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            return ""

    # The binary's own build info (go version -m): the commit it was built
    # from and whether that work tree had changes; else the repo's HEAD.
    build = out(["go", "version", "-m", binary])
    go_ver = (build.splitlines()[0].split(":", 1)[-1].strip() if build else "") or "?"
    info = dict(re.findall(r"^\s*build\s+(vcs\.\w+)=(\S+)", build, re.M))
    if "vcs.revision" in info:
        lf = info["vcs.revision"][:12] + (" (built from a work tree with uncommitted changes)" if info.get("vcs.modified") == "true" else "")
        if info.get("vcs.time"):
            lf += f", commit time {info['vcs.time']}"
    else:
        lf = out(["git", "rev-parse", "--short=12", "HEAD"]) + " (HEAD of the repo; the binary has no VCS stamp)"
    v = {
        "lakeflight": lf,
        "lakeflight built with": go_ver,
        "DuckDB (Python)": duckdb.__version__,
        "pyarrow": pyarrow.__version__,
        "adbc-driver-flightsql": getattr(adbc_driver_flightsql, "__version__", "?"),
        "PyIceberg": pyiceberg.__version__,
        "Python": platform.python_version(),
    }
    tg = out([make_tpch.tpchgen_binary(), "--version"])
    if tg:
        v["tpchgen-cli"] = tg.split()[-1]
    return v


# ------------------------------------------------------------------ report
def geomean(xs: list[float]) -> float | None:
    xs = [x for x in xs if x and x > 0]
    return math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else None


def _ms(v: float | None) -> str:
    if v is None:
        return "—"
    return f"{v:,.0f}" if v >= 100 else f"{v:.1f}"


def _ratio(v: float | None) -> str:
    return "—" if v is None else f"{v:.2f}"


def plot(results: list[Result], png: Path, title: str) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        log("matplotlib is not importable: no plot")
        return False
    names = [r.name for r in results]
    ratios = [r.ratio for r in results]
    top = max([x for x in ratios if x] + [TARGET_MAX * 1.3])
    fig, ax = plt.subplots(figsize=(11, 6), dpi=110)
    colors = []
    for r in results:
        x = r.ratio
        if x is None or r.status != "ok":
            colors.append("#d62728" if x is None else "#9467bd")
        elif x > TARGET_MAX:
            colors.append("#d62728")
        elif x > TARGET_GEOMEAN:
            colors.append("#ff7f0e")
        else:
            colors.append("#2ca02c")
    heights = [x if x else top for x in ratios]
    bars = ax.bar(names, heights, color=colors, edgecolor="black", linewidth=0.4)
    for b, r in zip(bars, results):
        if r.ratio is None:
            b.set_hatch("//")
            b.set_alpha(0.35)
            ax.text(b.get_x() + b.get_width() / 2, top * 0.5, r.status, rotation=90, ha="center", va="center", fontsize=8)
        else:
            ax.text(b.get_x() + b.get_width() / 2, r.ratio * 1.06, f"{r.ratio:.1f}", ha="center", va="bottom", fontsize=7.5)
    ax.set_yscale("log")
    ax.set_ylim(min([x for x in ratios if x] + [1.0]) * 0.5, top * 1.6)
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.axhline(TARGET_GEOMEAN, color="#ff7f0e", linestyle="--", linewidth=1, label=f"{TARGET_GEOMEAN:g}x (geomean target)")
    ax.axhline(TARGET_MAX, color="#d62728", linestyle="--", linewidth=1, label=f"{TARGET_MAX:g}x (per-query limit)")
    gm = geomean([x for x in ratios if x])
    if gm:
        ax.axhline(gm, color="#1f77b4", linestyle=":", linewidth=1.5, label=f"geometric mean {gm:.2f}x")
    ax.set_ylabel("lakeflight time / DuckDB time (log scale)")
    ax.set_title(title, fontsize=11)
    from matplotlib.patches import Patch

    handles, _ = ax.get_legend_handles_labels()
    handles += [
        Patch(facecolor="#2ca02c", edgecolor="black", label=f"<= {TARGET_GEOMEAN:g}x"),
        Patch(facecolor="#ff7f0e", edgecolor="black", label=f"{TARGET_GEOMEAN:g}x to {TARGET_MAX:g}x"),
        Patch(facecolor="#d62728", edgecolor="black", label=f"> {TARGET_MAX:g}x"),
        Patch(facecolor="#9467bd", edgecolor="black", label="answer differs from DuckDB's"),
        Patch(facecolor="#d62728", alpha=0.35, hatch="//", edgecolor="black", label="failed (no ratio)"),
    ]
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.07), ncol=4, fontsize=8, frameon=False)
    ax.grid(axis="y", which="both", alpha=0.25)
    fig.tight_layout()
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png)
    plt.close(fig)
    return True


def write_report(out: Path, png: Path | None, results: list[Result], meta: dict) -> None:
    ran = [r for r in results if r.ratio is not None]
    ok = [r for r in ran if r.status == "ok"]
    failed = [r for r in results if r.status not in ("ok", "MISMATCH")]
    mismatched = [r for r in results if r.status == "MISMATCH"]
    gm_ran = geomean([r.ratio for r in ran])
    gm_ok = geomean([r.ratio for r in ok])
    worst = max(ran, key=lambda r: r.ratio) if ran else None
    sf = meta["sf"]
    L: list[str] = []
    w = L.append
    w("# Benchmarks")
    w("")
    w("<!-- Written by bench/tpch/bench.py; rerun it rather than editing the numbers by hand. -->")
    w("")
    w(f"## TPC-H SF {sf}: lakeflight vs DuckDB")
    w("")
    w(
        "The 22 TPC-H queries (`q01`..`q22` of `clients/python/corpus/tpch.sql`: standard form, "
        "validation parameters, Q15 as a CTE) run through lakeflight (ADBC Flight SQL client, Python) and through "
        "DuckDB in process, over the same Parquet files: the data files of the Iceberg tables that "
        "`bench/tpch/make_tpch.py` wrote. Both engines get the same number of threads."
    )
    w("")
    verdict_bits = []
    if gm_ran is not None:
        verdict_bits.append(f"geometric mean ratio **{gm_ran:.2f}x** over the {len(ran)} queries both engines ran")
    if gm_ok is not None and len(ok) != len(ran):
        verdict_bits.append(f"{gm_ok:.2f}x over the {len(ok)} with matching answers")
    if worst is not None:
        verdict_bits.append(f"slowest relative to DuckDB: {worst.name} at {worst.ratio:.1f}x")
    w("Result: " + "; ".join(verdict_bits) + "." if verdict_bits else "Result: no query ran on both engines.")
    w("")
    met_gm = gm_ran is not None and gm_ran <= TARGET_GEOMEAN
    over = [r for r in ran if r.ratio > TARGET_MAX]
    target_met = met_gm and not over and not failed and not mismatched and len(ran) == len(results)
    w(
        f"Target (geometric mean within {TARGET_GEOMEAN:g}x of DuckDB, no query over {TARGET_MAX:g}x, every query "
        f"answered correctly): **{'met' if target_met else 'not met'}**"
        + ("" if target_met else " — " + "; ".join(
            x for x in [
                None if met_gm else (f"geometric mean {gm_ran:.2f}x" if gm_ran else "no geometric mean"),
                f"over {TARGET_MAX:g}x: {', '.join(f'{r.name} ({r.ratio:.1f}x)' for r in over)}" if over else None,
                f"failed: {', '.join(f'{r.name} ({r.status})' for r in failed)}" if failed else None,
                f"different answers: {', '.join(r.name for r in mismatched)}" if mismatched else None,
            ] if x
        ))
        + "."
    )
    w("")
    if png is not None:
        w(f"![lakeflight / DuckDB time per TPC-H query, SF {sf}]({os.path.relpath(png, out.parent)})")
        w("")
    w(f"Times are milliseconds, the median of {meta['runs']} runs after one warm-up, end to end from the client: "
      "execute plus fetching the whole result as an Arrow table. Ratio = lakeflight / DuckDB (above 1: lakeflight "
      "is slower). Check compares the two warm-up answers.")
    w("")
    w("| query | lakeflight ms | DuckDB ms | ratio | lakeflight CPU ms | DuckDB CPU ms | CPU ratio | rows | lakeflight VmHWM after (MiB) | status |")
    w("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for r in results:
        rows = r.lf.rows if r.lf.rows is not None else r.duck.rows
        hwm = "—" if r.hwm_after_mib is None else f"{r.hwm_after_mib:,.0f}"
        w(f"| {r.name} | {_ms(r.lf.median_ms)} | {_ms(r.duck.median_ms)} | {_ratio(r.ratio)} | "
          f"{_ms(r.lf.cpu_ms)} | {_ms(r.duck.cpu_ms)} | {_ratio(r.cpu_ratio)} | "
          f"{'—' if rows is None else rows} | {hwm} | {r.status} |")
    tot_lf = sum(r.lf.median_ms for r in ran)
    tot_dk = sum(r.duck.median_ms for r in ran)
    if ran:
        gm_cpu = geomean([r.cpu_ratio for r in ran if r.cpu_ratio])
        w(f"| **sum ({len(ran)} ran)** | **{_ms(tot_lf)}** | **{_ms(tot_dk)}** | **{tot_lf / tot_dk:.2f}** | | | | | | |")
        w(f"| **geometric mean** | | | **{gm_ran:.2f}** | | | {'' if gm_cpu is None else f'**{gm_cpu:.2f}**'} | | | |")
    w("")
    w("CPU ms is the mean CPU time (user + system, all threads) of the engine's process per timed run: the "
      "lakeflight server from /proc/PID/stat (10 ms ticks; the ADBC client's decoding in the benchmark process "
      "is not in it), DuckDB's from this process's own times. It moves less than wall time when other work "
      "shares the machine.")
    loads = [x for r in results for x in r.load]
    if loads:
        w("")
        w(f"Machine load (1-minute load average) during the runs: {min(loads):.1f} to {max(loads):.1f}, "
          f"median {statistics.median(loads):.1f}, on {meta['machine'].get('nproc', '?')} CPUs"
          + (" — other work shared the machine, so wall times are noisier than on an idle one; the "
             "runs alternate between the engines so that both see the same load."
             if max(loads) > float(meta['threads']) + 0.5 else "."))
    w("")
    if ran:
        w("Slowest relative to DuckDB:")
        w("")
        for r in sorted(ran, key=lambda r: -r.ratio)[:6]:
            w(f"- {r.name}: {r.ratio:.2f}x ({_ms(r.lf.median_ms)} ms vs {_ms(r.duck.median_ms)} ms)")
        w("")
    if failed or mismatched:
        w("Failures and mismatches:")
        w("")
        for r in failed + mismatched:
            if r.lf.error:
                w(f"- {r.name} ({r.status}, lakeflight): `{r.lf.error}`")
            if r.duck.error:
                w(f"- {r.name} (DuckDB): `{r.duck.error}`")
            if r.check:
                w(f"- {r.name} (answers differ): {r.check}")
        w("")
    notes = [f"{r.name}: {n}" for r in results for n in r.notes]
    if notes:
        w("Notes from the run:")
        w("")
        for n in notes:
            w(f"- {n}")
        w("")
    w(f"Peak RSS of the lakeflight process (VmHWM from /proc/PID/status): **{meta['peak_rss_mib']:,.0f} MiB**"
      + (f" (over {meta['server_starts']} server starts)" if meta["server_starts"] > 1 else "")
      + f"; after loading the catalog, before the first query: {meta['rss_start_mib']:,.0f} MiB. "
      f"`--query-memory-limit` {meta['query_memory_limit']}.")
    w("")
    w("### Setup")
    w("")
    w(f"- Data: TPC-H SF {sf} from tpchgen-cli, written by `make_tpch.py` with {meta['parts']} parts per table: "
      + ", ".join(f"{t} {n} file{'s' if n != 1 else ''}" for t, n in meta["files"].items())
      + f"; {meta['data_mib']:,.0f} MiB of Parquet. `lineitem` is partitioned by `year(l_shipdate)` and sorted by "
      "`l_shipdate`, `orders` sorted by `o_orderdate`; money is `decimal(15,2)`.")
    w(f"- lakeflight: `lakeflight serve` on 127.0.0.1 (port 0) with `GOMAXPROCS={meta['threads']}`, SQLite catalog, "
      "local warehouse; it plans each query against the Iceberg metadata (manifests, partition and file pruning; the "
      "file list of a table scan is kept per metadata file and filter, so the timed runs after the warm-up, and the "
      "statement's later Flight calls, reuse it while the catalog still loads each table) and "
      "streams Arrow over gRPC on loopback. Client: `adbc_driver_flightsql.dbapi` in the benchmark's Python process, "
      "a new cursor per run.")
    w(f"- DuckDB: in-memory, `SET threads={meta['threads']}`, views "
      "`CREATE VIEW tpch.T AS SELECT cols FROM read_parquet([the table's data files], hive_partitioning=false)` "
      "(no Iceberg metadata, no copy), results fetched with `execute(sql).to_arrow_table()`.")
    w("- Both run on the same machine, one at a time: per query a warm-up on each, then the timed runs alternating "
      "lakeflight, DuckDB, lakeflight, DuckDB, ...; "
      f"the OS page cache warm for both. A run that exceeds {meta['timeout']:g} s is cancelled and counts as a timeout.")
    w(f"- Answers compared: same column and row count; rows in order where the query has a top-level `ORDER BY`, "
      f"as multisets otherwise; integers exactly, other numbers with relative tolerance {REL_TOL:g}.")
    w("")
    w("Machine:")
    w("")
    for k, v in meta["machine"].items():
        w(f"- {k}: {v}")
    w("")
    w("Versions:")
    w("")
    for k, v in meta["versions"].items():
        w(f"- {k}: {v}")
    w("")
    w(f"Run {meta['started']} (UTC), {meta['elapsed_s'] / 60:.1f} minutes including data generation"
      f"{' (' + format(meta['gen_s'], '.0f') + ' s)' if meta.get('gen_s') else ' (data reused)'}. Command:")
    w("")
    w("```sh")
    w(meta["command"])
    w("```")
    w("")
    w("How to run it and what it does: [bench/README.md](../bench/README.md).")
    w("")
    out.parent.mkdir(parents=True, exist_ok=True)
    # The other benchmarks' sections (level-2 headings after this report's
    # own) stay.
    kept = ""
    if out.exists():
        old = out.read_text().splitlines()
        start = next((i for i, line in enumerate(old) if line.startswith("## ") and not line.startswith("## TPC-H")), None)
        if start is not None:
            kept = "\n" + "\n".join(old[start:]) + "\n"
    out.write_text("\n".join(L).rstrip("\n") + "\n" + kept)


# ------------------------------------------------------------------ main
def build_rev(rev: str, data_dir: Path) -> str:
    """lakeflight built from git revision `rev` in a clean clone (the work
    tree may hold other people's unfinished edits); DIR/lakeflight-REV."""
    import tempfile

    commit = subprocess.run(["git", "rev-parse", "--verify", rev + "^{commit}"], cwd=REPO, capture_output=True,
                            text=True, check=True).stdout.strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    binary = data_dir / f"lakeflight-{commit[:12]}"
    if binary.exists():
        log(f"reusing {binary}")
        return str(binary)
    log(f"building lakeflight at {commit[:12]} in a clean clone")
    with tempfile.TemporaryDirectory(prefix="lakeflight-src-") as src:
        subprocess.run(["git", "clone", "--quiet", "--shared", "--no-checkout", str(REPO), src], check=True)
        subprocess.run(["git", "-c", "advice.detachedHead=false", "checkout", "--quiet", commit], cwd=src, check=True)
        subprocess.run(["go", "build", "-buildvcs=true", "-o", str(binary), "./cmd/lakeflight"], cwd=src, check=True)
    return str(binary)


def ensure_data(data_dir: Path, sf: float, parts: int) -> float | None:
    """Writes the TPC-H tables if DIR has none; checks the scale factor of
    existing ones. Returns the generation time, None when reused."""
    if (data_dir / "catalog.db").exists():
        cat = make_tpch.catalog_for(str(data_dir))
        tbl = cat.load_table(f"{make_tpch.NAMESPACE}.orders")
        total = int(tbl.current_snapshot().summary["total-records"])
        want = int(round(1_500_000 * sf))
        if total != want:
            raise SystemExit(f"{data_dir} holds TPC-H with {total} orders, SF {sf} has {want}: use another --dir")
        log(f"reusing TPC-H SF {make_tpch._fmt_sf(sf)} in {data_dir}")
        return None
    log(f"writing TPC-H SF {sf} into {data_dir} (make_tpch.py, {parts} parts)")
    t0 = time.monotonic()
    make_tpch.write_all(str(data_dir), sf=sf, parts=parts, log=log)
    return time.monotonic() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sf", type=float, default=1.0, help="TPC-H scale factor (default 1)")
    ap.add_argument("--dir", required=True, help="data folder: catalog.db and warehouse/ (written when missing)")
    ap.add_argument("--runs", type=int, default=3, help="timed runs per query and engine, after one warm-up (default 3)")
    ap.add_argument("--timeout", type=float, default=300, help="seconds per run before it is cancelled (default 300)")
    ap.add_argument("--out", default=str(REPO / "docs" / "benchmarks.md"), help="Markdown report (default docs/benchmarks.md)")
    ap.add_argument("--plot", default=None, help="PNG of the ratios (default docs/benchmarks-tpch-sfSF.png beside --out)")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="GOMAXPROCS of lakeflight and DuckDB threads (default nproc)")
    ap.add_argument("--parts", type=int, default=4, help="make_tpch.py --parts when the data is written (default 4)")
    ap.add_argument("--lakeflight-bin", default=str(REPO / "bin" / "lakeflight"), help="binary (built with go build when missing; default bin/lakeflight)")
    ap.add_argument("--rev", default=None, help="build lakeflight from this git revision (a clean clone of the repo) instead of using --lakeflight-bin")
    ap.add_argument("--query-memory-limit", default=None, help="passed to lakeflight serve (default: its own, 2GiB)")
    ap.add_argument("--queries", default=None, help="comma-separated subset, e.g. q01,q18 (default all 22)")
    ap.add_argument("--json", default=None, help="also write the raw results as JSON here")
    args = ap.parse_args(argv)

    started = dt.datetime.now(dt.timezone.utc)
    t_start = time.monotonic()
    data_dir = Path(args.dir).resolve()
    out = Path(args.out).resolve()
    sf_tag = make_tpch._fmt_sf(args.sf).replace(".", "_")
    png = Path(args.plot).resolve() if args.plot else out.parent / f"benchmarks-tpch-sf{sf_tag}.png"
    names = args.queries.split(",") if args.queries else QUERY_NAMES
    queries = load_queries(CORPUS, names)

    if args.rev:
        binary = build_rev(args.rev, data_dir)
    else:
        binary = str(Path(args.lakeflight_bin).resolve())
        if not os.path.exists(binary):
            log(f"building {binary}")
            subprocess.run(["go", "build", "-o", binary, "./cmd/lakeflight"], cwd=REPO, check=True)

    gen_s = ensure_data(data_dir, args.sf, args.parts)
    catalog = make_tpch.catalog_for(str(data_dir))
    duck_con, files = duckdb_connection(catalog, args.threads, None)
    duck = DuckRunner(duck_con, args.timeout)
    data_bytes = sum(f.stat().st_size for f in (data_dir / "warehouse").rglob("*.parquet"))

    extra = ["--query-memory-limit", args.query_memory_limit] if args.query_memory_limit else []
    server = Lakeflight(binary, data_dir, args.threads, data_dir / "lakeflight-bench.log", extra)
    server.start()
    log(f"lakeflight pid {server.proc.pid} on {server.uri}")
    client = LakeflightClient(server, args.timeout)
    client.connect()
    rss_start = server.rss_kib()

    results: list[Result] = []
    try:
        for name, sql in queries.items():
            r = Result(name)
            results.append(r)
            if not server.alive():
                r.notes.append("lakeflight was not running; restarted it")
                server.start()
                client.reconnect()
            # Warm-ups, then the timed runs alternating between the engines, so
            # that a change in the machine's load hits both alike.
            lf_table = duck_table = None
            for i in range(args.runs + 1):
                warm = i == 0
                if warm or r.lf.error is None:
                    got, cpu = client.once(sql)
                    t = record(r.lf, got, warm)
                    if warm:
                        lf_table = t
                    elif t is not None:
                        r.lf.cpu_s.append(cpu)
                    if got[2] is not None:  # failed: is the server still fine?
                        recover(r, server, client)
                if warm or r.duck.error is None:
                    got, cpu = duck.once(sql)
                    t = record(r.duck, got, warm)
                    if warm:
                        duck_table = t
                    elif t is not None:
                        r.duck.cpu_s.append(cpu)
                r.load.append(os.getloadavg()[0])
            r.hwm_after_mib = server.hwm_kib() / 1024
            if lf_table is not None and duck_table is not None:
                try:
                    r.check = compare(lf_table, duck_table, has_top_level_order_by(sql))
                except Exception as e:  # noqa: BLE001
                    r.check = f"comparison failed: {_error_text(e)}"
            log(
                f"{name}: lakeflight {_ms(r.lf.median_ms)} ms, duckdb {_ms(r.duck.median_ms)} ms, "
                f"ratio {_ratio(r.ratio)}, {r.status}"
                + (f" — {r.lf.error}" if r.lf.error else "")
                + (f" — duckdb: {r.duck.error}" if r.duck.error else "")
                + (f" — {r.check}" if r.check else "")
            )
    finally:
        server.hwm_kib()
        client.close()
        server.stop()
        duck_con.close()

    meta = {
        "sf": make_tpch._fmt_sf(args.sf),
        "runs": args.runs,
        "timeout": args.timeout,
        "threads": args.threads,
        "parts": args.parts,
        "files": files,
        "data_mib": data_bytes / 2**20,
        "peak_rss_mib": server.peak_kib / 1024,
        "rss_start_mib": rss_start / 1024,
        "server_starts": server.starts,
        "query_memory_limit": args.query_memory_limit or "default (2GiB)",
        "machine": machine_info(),
        "versions": versions(binary),
        "started": started.strftime("%Y-%m-%d %H:%M"),
        "elapsed_s": time.monotonic() - t_start,
        "gen_s": gen_s,
        "command": shlex.join([".venv/bin/python", os.path.relpath(__file__, REPO)] + (sys.argv[1:] if argv is None else argv)),
    }
    made_png = plot(results, png, f"TPC-H SF {meta['sf']}: lakeflight / DuckDB, {args.threads} threads each "
                                  f"(median of {args.runs}; lower is better)")
    write_report(out, png if made_png else None, results, meta)
    if args.json:
        Path(args.json).write_text(json.dumps({"meta": meta, "results": [
            {**asdict(r), "ratio": r.ratio, "status": r.status} for r in results]}, indent=2, default=str))
    ran = [r.ratio for r in results if r.ratio is not None]
    gm = geomean(ran)
    log(f"geometric mean ratio {gm:.2f} over {len(ran)} queries" if gm else "no query ran on both engines")
    log(f"peak RSS of lakeflight {server.peak_kib / 1024:,.0f} MiB; report {out}" + (f", plot {png}" if made_png else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
