"""Session fixtures for the lakeflight client interop suite.

Starts real lakeflight servers as subprocesses on loopback and stops them at
the end of the session (also when a test fails or the run is interrupted):

  demo_server  lakeflight serve --demo --warehouse <tmp>/demo
  pyi_server   lakeflight serve --catalog-uri sqlite:///<fx>/catalog.db
                                --warehouse file://<fx>/warehouse
  auth_server  pyi_server plus --users-file F --token TOKEN
  tls_server   pyi_server plus --tls-cert C --tls-key K (a self-signed
               certificate for 127.0.0.1/localhost made by `openssl`)
  pg_server    lakeflight serve --catalog-uri postgresql://...@127.0.0.1:P/iceberg
                                --warehouse file://<pgwh>
               over a throwaway PostgreSQL cluster (pg_cluster, tests/pgcluster.py)
               into which PyIceberg wrote some of the fixture tables

<fx> holds the tables written by PyIceberg (clients/python/make_fixtures.py).
adbccheck is clients/go/adbccheck (ADBC Go through database/sql), built once.

Environment:
  LAKEFLIGHT_BIN   use this binary instead of `go build ./cmd/lakeflight`
  LAKEFLIGHT_START_TIMEOUT  seconds to wait for "listening on" (default 120)
  LAKEFLIGHT_DEMO_EVENTS    --demo-events for the demo server (default 50000)
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

TESTS_DIR = Path(__file__).resolve().parent
PY_CLIENT_DIR = TESTS_DIR.parent
REPO = PY_CLIENT_DIR.parent.parent

sys.path.insert(0, str(PY_CLIENT_DIR))  # make_fixtures
sys.path.insert(0, str(TESTS_DIR))  # util

import make_fixtures  # noqa: E402
import pgcluster  # noqa: E402
from util import AUTH_TOKEN, AUTH_USERS  # noqa: E402

LISTEN_RE = re.compile(r"listening on (grpc(?:\+tls)?)://(\S+?):(\d+)\b")



@dataclass
class Server:
    """A running lakeflight subprocess and the address it reported."""

    name: str
    argv: list[str]
    proc: subprocess.Popen | None = None
    scheme: str = ""
    host: str = ""
    port: int = 0
    stdout_lines: list[str] = field(default_factory=list)
    stderr_lines: list[str] = field(default_factory=list)
    _listening: threading.Event = field(default_factory=threading.Event)

    @property
    def uri(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"

    @property
    def hostport(self) -> str:
        return f"{self.host}:{self.port}"

    def _pump(self, stream, sink: list[str], watch: bool) -> None:
        for raw in iter(stream.readline, ""):
            line = raw.rstrip("\n")
            sink.append(line)
            if watch and not self._listening.is_set():
                m = LISTEN_RE.search(line)
                if m:
                    self.scheme, self.host, self.port = m.group(1), m.group(2), int(m.group(3))
                    self._listening.set()
        stream.close()

    def start(self, timeout: float) -> "Server":
        self.proc = subprocess.Popen(
            self.argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            bufsize=1,
            cwd=str(REPO),
            start_new_session=True,  # its own process group: we can stop all of it
        )
        for stream, sink, watch in ((self.proc.stdout, self.stdout_lines, True), (self.proc.stderr, self.stderr_lines, False)):
            threading.Thread(target=self._pump, args=(stream, sink, watch), daemon=True).start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._listening.wait(0.1):
                return self
            if self.proc.poll() is not None:
                time.sleep(0.2)  # let the pumps drain
                break
        rc = self.proc.poll()
        self.stop()
        raise RuntimeError(
            f"lakeflight server {self.name!r} did not print 'listening on grpc://HOST:PORT' "
            f"within {timeout:.0f}s (exit code {rc})\n"
            f"command: {' '.join(self.argv)}\n{self.logs()}"
        )

    def logs(self, tail: int = 60) -> str:
        out = "\n".join(self.stdout_lines[-tail:])
        err = "\n".join(self.stderr_lines[-tail:])
        return f"--- stdout (last {tail} lines) ---\n{out}\n--- stderr (last {tail} lines) ---\n{err}"

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(timeout=10)


_servers: list[Server] = []
_pg_clusters: list[pgcluster.PgCluster] = []


def _stop_all() -> None:
    for s in _servers:
        s.stop()
    for c in _pg_clusters:  # after the servers that use them
        c.stop()


def pytest_sessionfinish(session, exitstatus):  # also runs after Ctrl-C
    _stop_all()


def pytest_runtest_call(item):
    item._lakeflight_marks = {id(s): len(s.stderr_lines) for s in _servers}


def pytest_runtest_makereport(item, call):
    """On a failing test, attach what the servers logged during it (all of a
    server's recent output if it has exited)."""
    if call.when == "call" and call.excinfo is not None:
        marks = getattr(item, "_lakeflight_marks", {})
        for s in _servers:
            if s.proc is None:
                continue
            if not s.alive():
                item.add_report_section("call", f"lakeflight {s.name} (exited {s.proc.poll()})", s.logs(40))
                continue
            new = s.stderr_lines[marks.get(id(s), 0):]
            if new:
                item.add_report_section("call", f"lakeflight {s.name} stderr", "\n".join(new[-20:]))


# ------------------------------------------------------------------ fixtures
@pytest.fixture(scope="session")
def lakeflight_bin(tmp_path_factory) -> str:
    env_bin = os.environ.get("LAKEFLIGHT_BIN")
    if env_bin:
        if not os.access(env_bin, os.X_OK):
            pytest.fail(f"LAKEFLIGHT_BIN={env_bin} is not an executable file")
        return env_bin
    go = shutil.which("go")
    if go is None:
        pytest.fail("no LAKEFLIGHT_BIN and no `go` on PATH to build ./cmd/lakeflight")
    out = tmp_path_factory.mktemp("bin") / "lakeflight"
    proc = subprocess.run(
        [go, "build", "-o", str(out), "./cmd/lakeflight"],
        cwd=str(REPO),
        capture_output=True,
        text=True,
        timeout=900,
    )
    if proc.returncode != 0:
        pytest.fail(f"go build ./cmd/lakeflight failed (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return str(out)


@pytest.fixture(scope="session")
def fixtures_dir(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("pyiceberg")
    make_fixtures.write_all(str(d))
    return d


@pytest.fixture(scope="session")
def pyi_catalog(fixtures_dir):
    """PyIceberg's own view of the fixture catalog: the reference for results."""
    return make_fixtures.catalog_for(str(fixtures_dir))


def _start(name: str, argv: list[str]) -> Server:
    timeout = float(os.environ.get("LAKEFLIGHT_START_TIMEOUT", "120"))
    s = Server(name=name, argv=argv)
    _servers.append(s)
    try:
        return s.start(timeout)
    except RuntimeError as e:
        pytest.fail(str(e), pytrace=False)


def _catalog_args(fixtures_dir: Path) -> list[str]:
    return [
        "--catalog-uri",
        f"sqlite:///{fixtures_dir}/catalog.db",
        "--warehouse",
        f"file://{fixtures_dir}/warehouse",
    ]


@pytest.fixture(scope="session")
def demo_server(lakeflight_bin, tmp_path_factory):
    wh = tmp_path_factory.mktemp("demo")
    # --demo-events keeps the written demo small (the default is 2M events).
    events = os.environ.get("LAKEFLIGHT_DEMO_EVENTS", "50000")
    s = _start(
        "demo",
        [lakeflight_bin, "serve", "--demo", "--demo-events", events, "--warehouse", str(wh), "--listen", "127.0.0.1:0"],
    )
    yield s
    s.stop()


@pytest.fixture(scope="session")
def pyi_server(lakeflight_bin, fixtures_dir):
    s = _start("pyi", [lakeflight_bin, "serve", *_catalog_args(fixtures_dir), "--listen", "127.0.0.1:0"])
    yield s
    s.stop()


@pytest.fixture(scope="session")
def users_file(tmp_path_factory) -> Path:
    f = tmp_path_factory.mktemp("auth") / "users.txt"
    lines = ["# lakeflight users for the interop suite: user:password", ""]
    lines += [f"{u}:{p}" for u, p in AUTH_USERS.items()]
    lines += ["  # an indented comment", ""]
    f.write_text("\n".join(lines) + "\n")
    return f


@pytest.fixture(scope="session")
def auth_server(lakeflight_bin, fixtures_dir, users_file):
    s = _start(
        "auth",
        [
            lakeflight_bin,
            "serve",
            *_catalog_args(fixtures_dir),
            "--users-file",
            str(users_file),
            "--token",
            AUTH_TOKEN,
            "--listen",
            "127.0.0.1:0",
        ],
    )
    yield s
    s.stop()


def _adbc_connect(server: Server, **db_kwargs):
    import adbc_driver_flightsql as flightsql_opts
    import adbc_driver_flightsql.dbapi as flightsql

    # Bounded RPCs: a hung server fails a test instead of hanging the run.
    opts = {
        flightsql_opts.DatabaseOptions.TIMEOUT_QUERY.value: "120",
        flightsql_opts.DatabaseOptions.TIMEOUT_FETCH.value: "120",
        **db_kwargs,
    }
    # Default autocommit handling, as a user would connect: the driver asks the
    # server whether transactions are supported.
    return flightsql.connect(server.uri, db_kwargs=opts)


@pytest.fixture(scope="session")
def adbc_connect():
    """adbc_connect(server, **db_kwargs) -> a new ADBC dbapi connection."""
    opened = []

    def connect(server: Server, **db_kwargs):
        conn = _adbc_connect(server, **db_kwargs)
        opened.append(conn)
        return conn

    yield connect
    for c in opened:
        try:
            c.close()
        except Exception:
            pass


@pytest.fixture(scope="session")
def pyi_conn(pyi_server, adbc_connect):
    return adbc_connect(pyi_server)


@pytest.fixture(scope="session")
def demo_conn(demo_server, adbc_connect):
    return adbc_connect(demo_server)


# ------------------------------------------------------------------ TLS
@dataclass
class TlsCert:
    cert: Path  # PEM certificate (self-signed: also the root to trust)
    key: Path  # PEM private key

    @property
    def pem(self) -> str:
        return self.cert.read_text()


@pytest.fixture(scope="session")
def tls_cert(tmp_path_factory) -> TlsCert:
    """A self-signed certificate for CN=localhost, SANs DNS:localhost and
    IP:127.0.0.1, valid for two days, made with the openssl CLI."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.fail("the openssl CLI is not on PATH (scripts/setup-test-env.sh installs it)")
    d = tmp_path_factory.mktemp("tls")
    cert, key = d / "cert.pem", d / "key.pem"
    p = subprocess.run(
        [
            openssl, "req", "-x509", "-nodes", "-days", "2",
            "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-keyout", str(key), "-out", str(cert),
            "-subj", "/CN=localhost",
            "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if p.returncode != 0 or not cert.exists():
        pytest.fail(f"openssl req failed (exit {p.returncode}):\n{p.stdout}\n{p.stderr}")
    return TlsCert(cert=cert, key=key)


@pytest.fixture(scope="session")
def tls_server(lakeflight_bin, fixtures_dir, tls_cert):
    s = _start(
        "tls",
        [
            lakeflight_bin,
            "serve",
            *_catalog_args(fixtures_dir),
            "--tls-cert",
            str(tls_cert.cert),
            "--tls-key",
            str(tls_cert.key),
            "--listen",
            "127.0.0.1:0",
        ],
    )
    yield s
    s.stop()


# ------------------------------------------------------------------ PostgreSQL
@pytest.fixture(scope="session")
def pg_cluster():
    """A throwaway PostgreSQL cluster on 127.0.0.1 (tests/pgcluster.py).
    Fails (does not skip) when PostgreSQL or psycopg2 is missing."""
    try:
        c = pgcluster.PgCluster.create()
    except pgcluster.PgError as e:
        pytest.fail(f"cannot start a PostgreSQL server for the SQL-catalog tests: {e}", pytrace=False)
    _pg_clusters.append(c)
    yield c
    c.stop()


@pytest.fixture(scope="session")
def pg_fixtures(pg_cluster, tmp_path_factory):
    """(PyIceberg SqlCatalog on PostgreSQL, warehouse dir) holding
    make_fixtures.POSTGRES_TABLES."""
    wh = tmp_path_factory.mktemp("pg-warehouse")
    cat = make_fixtures.sql_catalog(pg_cluster.sqlalchemy_uri(), f"file://{wh}")
    make_fixtures.write_tables(cat, make_fixtures.POSTGRES_TABLES)
    return cat, wh


@pytest.fixture(scope="session")
def pg_catalog(pg_fixtures):
    """PyIceberg's view of the PostgreSQL catalog: the reference for results."""
    return pg_fixtures[0]


@pytest.fixture(scope="session")
def pg_server(lakeflight_bin, pg_cluster, pg_fixtures):
    s = _start(
        "pg",
        [
            lakeflight_bin,
            "serve",
            "--catalog-uri",
            pg_cluster.lakeflight_uri(),
            "--warehouse",
            f"file://{pg_fixtures[1]}",
            "--listen",
            "127.0.0.1:0",
        ],
    )
    yield s
    s.stop()


@pytest.fixture(scope="session")
def start_server():
    """start_server(name, argv, must_listen=True, timeout=None) -> a Server,
    stopped at session end. With must_listen, pytest.fail with its logs when it
    does not print 'listening on'; without, the Server is returned either way
    (s.port == 0 and s.proc exited when it did not start)."""
    started = []

    def start(name: str, argv: list[str], must_listen: bool = True, timeout: float | None = None) -> Server:
        if must_listen:
            s = _start(name, argv)
        else:
            s = Server(name=name, argv=argv)
            _servers.append(s)
            try:
                s.start(timeout or float(os.environ.get("LAKEFLIGHT_START_TIMEOUT", "120")))
            except RuntimeError:
                # It exited: nothing to stop, and its logs belong to the test
                # that started it, not to later failure reports.
                _servers.remove(s)
        started.append(s)
        return s

    yield start
    for s in started:
        s.stop()


# ------------------------------------------------------------------ Go ADBC
@pytest.fixture(scope="session")
def adbccheck_bin(tmp_path_factory) -> str:
    """clients/go/adbccheck, built once with `go build`."""
    go = shutil.which("go")
    if go is None:
        pytest.fail("`go` is not on PATH: needed to build clients/go/adbccheck")
    out = tmp_path_factory.mktemp("gobin") / "adbccheck"
    proc = subprocess.run(
        [go, "build", "-o", str(out), "./clients/go/adbccheck"],
        cwd=str(REPO),
        capture_output=True,
        text=True,
        timeout=900,
    )
    if proc.returncode != 0:
        pytest.fail(f"go build ./clients/go/adbccheck failed (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return str(out)
