"""A throwaway PostgreSQL server for the interop suite (conftest pg_cluster).

    cluster = PgCluster.create(base_tmp)   # initdb + pg_ctl start + CREATE DATABASE
    cluster.stop()                         # pg_ctl stop -m immediate + rm -rf

The server binaries (initdb, pg_ctl, postgres) come from PATH or from
Debian's /usr/lib/postgresql/<version>/bin (scripts/setup-test-env.sh installs
the `postgresql` package when they are missing). The cluster lives in a temp
directory, listens on 127.0.0.1 only (TCP, password auth) and on a Unix
socket in that directory, on a free port. PostgreSQL refuses to run as root,
so as root the cluster belongs to the system user `lakeflight-pg` (created
with useradd when missing; `postgres` is the fallback).

No test logic lives here; errors are raised as PgError with the server log.
"""

from __future__ import annotations

import glob
import os
import pwd
import re
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

PG_OS_USER = "lakeflight-pg"
ADMIN_ROLE = "lakeflight_admin"
ADMIN_PASSWORD = "admin-pw-5d1e"
# The role and database the Iceberg catalog lives in (not a superuser).
CATALOG_ROLE = "iceberg_rw"
CATALOG_PASSWORD = "ice-pw-9c2b"
CATALOG_DB = "iceberg"


class PgError(RuntimeError):
    pass


def find_bindir() -> Path | None:
    """The directory holding initdb, pg_ctl and postgres, or None."""
    cands: list[Path] = []
    initdb = shutil.which("initdb")
    if initdb:
        cands.append(Path(os.path.realpath(initdb)).parent)

    def version_key(p: str):
        m = re.search(r"/postgresql/(\d+)(?:\.(\d+))?/", p)
        return (int(m.group(1)), int(m.group(2) or 0)) if m else (0, 0)

    for d in sorted(glob.glob("/usr/lib/postgresql/*/bin/"), key=version_key, reverse=True):
        cands.append(Path(d))
    for d in cands:
        if all(os.access(d / tool, os.X_OK) for tool in ("initdb", "pg_ctl", "postgres")):
            return d
    return None


def _os_user() -> pwd.struct_passwd | None:
    """The unprivileged user to run PostgreSQL as; None means the current one."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(PG_OS_USER)
    except KeyError:
        pass
    nologin = "/usr/sbin/nologin" if os.path.exists("/usr/sbin/nologin") else "/bin/false"
    subprocess.run(
        ["useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent", "--shell", nologin, PG_OS_USER],
        capture_output=True,
        text=True,
    )
    for name in (PG_OS_USER, "postgres"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise PgError(
        f"running as root, and neither system user {PG_OS_USER!r} (useradd failed) nor 'postgres' exists: "
        "PostgreSQL cannot run as root"
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class PgCluster:
    bindir: Path
    root: Path
    port: int
    os_user: pwd.struct_passwd | None
    version: str = ""
    running: bool = False

    # ------------------------------------------------------------ addresses
    host = "127.0.0.1"

    def sqlalchemy_uri(self) -> str:
        """For PyIceberg's SqlCatalog (SQLAlchemy + psycopg2)."""
        return f"postgresql+psycopg2://{CATALOG_ROLE}:{CATALOG_PASSWORD}@{self.host}:{self.port}/{CATALOG_DB}"

    def lakeflight_uri(self, password: str = CATALOG_PASSWORD) -> str:
        """For lakeflight --catalog-uri."""
        return f"postgresql://{CATALOG_ROLE}:{password}@{self.host}:{self.port}/{CATALOG_DB}"

    def connect(self, dbname: str = CATALOG_DB, admin: bool = False):
        """A psycopg2 connection over TCP with password auth (autocommit)."""
        import psycopg2

        user, pw = (ADMIN_ROLE, ADMIN_PASSWORD) if admin else (CATALOG_ROLE, CATALOG_PASSWORD)
        conn = psycopg2.connect(host=self.host, port=self.port, user=user, password=pw, dbname=dbname, connect_timeout=10)
        conn.autocommit = True
        return conn

    @property
    def datadir(self) -> Path:
        return self.root / "data"

    @property
    def logfile(self) -> Path:
        return self.root / "postgres.log"

    def log_tail(self, n: int = 40) -> str:
        try:
            return "\n".join(self.logfile.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return "(no server log)"

    # ------------------------------------------------------------ lifecycle
    def _run(self, argv: list[str], timeout: float = 120) -> subprocess.CompletedProcess:
        kw = {}
        if self.os_user is not None:
            kw = dict(user=self.os_user.pw_uid, group=self.os_user.pw_gid, extra_groups=[])
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env.update(HOME=str(self.root), LC_ALL="C", LANG="C")
        return subprocess.run(
            argv, capture_output=True, text=True, timeout=timeout, cwd=str(self.root), env=env, stdin=subprocess.DEVNULL, **kw
        )

    @classmethod
    def create(cls, base: str | None = None) -> "PgCluster":
        bindir = find_bindir()
        if bindir is None:
            raise PgError(
                "PostgreSQL server binaries (initdb, pg_ctl, postgres) were not found on PATH or in "
                "/usr/lib/postgresql/*/bin: run scripts/setup-test-env.sh (it installs Debian's "
                "`postgresql` package), or install PostgreSQL >= 12"
            )
        user = _os_user()
        # Not under pytest's tmp dirs: those are 0700 root, which the
        # PostgreSQL user cannot enter.
        root = Path(tempfile.mkdtemp(prefix="lakeflight-pg-", dir=base))
        os.chmod(root, 0o700)
        if user is not None:
            os.chown(root, user.pw_uid, user.pw_gid)
        c = cls(bindir=bindir, root=root, port=0, os_user=user)
        try:
            c._initdb()
            c._start()
            c._create_db()
        except BaseException:
            c.stop()
            raise
        return c

    def _initdb(self) -> None:
        pwfile = self.root / "pwfile"
        pwfile.write_text(ADMIN_PASSWORD + "\n")
        if self.os_user is not None:
            os.chown(pwfile, self.os_user.pw_uid, self.os_user.pw_gid)
        p = self._run(
            [
                str(self.bindir / "initdb"),
                "-D", str(self.datadir),
                "-U", ADMIN_ROLE,
                f"--pwfile={pwfile}",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "-E", "UTF8",
                "--locale=C",
                "--no-sync",
            ]
        )
        pwfile.unlink(missing_ok=True)
        if p.returncode != 0:
            raise PgError(f"initdb failed (exit {p.returncode}):\n{p.stdout}\n{p.stderr}")
        v = self._run([str(self.bindir / "postgres"), "--version"])
        self.version = v.stdout.strip()

    def _start(self) -> None:
        last = ""
        for _ in range(3):  # a free port can be taken between probe and bind
            self.port = _free_port()
            opts = " ".join(
                shlex.quote(o)
                for o in [
                    "-k", str(self.root),
                    "-p", str(self.port),
                    "-c", "listen_addresses=127.0.0.1",
                    "-c", "fsync=off",
                    "-c", "synchronous_commit=off",
                    "-c", "full_page_writes=off",
                    "-c", "max_connections=50",
                ]
            )
            p = self._run(
                [str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-l", str(self.logfile), "-w", "-t", "60", "-o", opts, "start"],
                timeout=90,
            )
            if p.returncode == 0:
                self.running = True
                return
            last = f"pg_ctl start failed (exit {p.returncode}):\n{p.stdout}\n{p.stderr}\n--- server log ---\n{self.log_tail()}"
            if "could not bind" not in self.log_tail() and "Address already in use" not in self.log_tail():
                break
        raise PgError(last)

    def _create_db(self) -> None:
        try:
            import psycopg2  # noqa: F401
        except ImportError as e:
            raise PgError(f"psycopg2 is not installed in this Python ({e}): run scripts/setup-test-env.sh") from e
        deadline = time.monotonic() + 30
        while True:
            try:
                conn = self.connect("postgres", admin=True)
                break
            except Exception as e:  # the server may still be starting
                if time.monotonic() > deadline:
                    raise PgError(f"cannot connect to PostgreSQL on port {self.port}: {e}\n{self.log_tail()}") from e
                time.sleep(0.2)
        try:
            with conn.cursor() as cur:
                cur.execute(f"CREATE ROLE {CATALOG_ROLE} LOGIN PASSWORD %s", (CATALOG_PASSWORD,))
                cur.execute(f"CREATE DATABASE {CATALOG_DB} OWNER {CATALOG_ROLE}")
        finally:
            conn.close()

    def stop(self) -> None:
        if self.running:
            p = None
            try:
                p = self._run(
                    [str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-m", "immediate", "-w", "-t", "30", "stop"],
                    timeout=60,
                )
            except subprocess.TimeoutExpired:
                pass
            if p is None or p.returncode != 0:
                # The postmaster this cluster started: its pid is the first
                # line of postmaster.pid. SIGQUIT is an immediate shutdown.
                try:
                    pid = int((self.datadir / "postmaster.pid").read_text().split()[0])
                    os.kill(pid, signal.SIGQUIT)
                    time.sleep(1)
                except (OSError, ValueError, IndexError):
                    pass
            self.running = False
        shutil.rmtree(self.root, ignore_errors=True)
