"""JDBC: clients/java's JdbcCheck (Arrow Flight SQL JDBC driver 18.3.0) run as
a subprocess against the pyiceberg servers; exit code 0 and its OK lines are
asserted. Build it first with scripts/setup-test-env.sh."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from util import AUTH_TOKEN, AUTH_USERS, REPO

JAVA_DIR = REPO / "clients" / "java"
JAR = JAVA_DIR / "target" / "jdbc-check.jar"

# Arrow Java's memory module reads java.nio.Buffer internals; JDK 17 needs this.
JVM_FLAGS = ["--add-opens=java.base/java.nio=ALL-UNNAMED"]

# The checks JdbcCheck prints for a full run, in order.
FULL_RUN = ["connect", "getCatalogs", "getSchemas", "getTables", "getColumns", "getPrimaryKeys",
            "statement", "prepared", "values", "scan", "scan", "scan", "scan", "all"]


@pytest.fixture(scope="module")
def java() -> str:
    j = shutil.which("java")
    if j is None:
        pytest.fail("java is not on PATH (scripts/setup-test-env.sh installs it)")
    if not JAR.exists() or not list((JAVA_DIR / "target" / "lib").glob("flight-sql-jdbc-driver-*.jar")):
        pytest.fail(f"{JAR} or its lib/ is missing: run scripts/setup-test-env.sh")
    return j


def run_check(java: str, server, *args: str, timeout: int = 180) -> tuple[int, list[str], str]:
    argv = [java, *JVM_FLAGS, "-jar", str(JAR), "--host", server.host, "--port", str(server.port), *args]
    p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd=str(JAVA_DIR))
    lines = [l for l in p.stdout.splitlines() if l.startswith(("OK ", "FAIL ", "  caused by"))]
    return p.returncode, lines, f"exit {p.returncode}\nstdout:\n{p.stdout}\nstderr (tail):\n{p.stderr[-3000:]}"


def assert_full_run(rc: int, lines: list[str], out: str) -> None:
    assert rc == 0, out
    checks = [l.split()[1] for l in lines if l.startswith("OK ")]
    assert checks == FULL_RUN, out
    by = {l.split()[1]: l for l in lines}
    assert "[default]" in by["getCatalogs"] or "default" in by["getCatalogs"], out
    assert by["getTables"].endswith("[all_types, empty, events, keyed, nested, snapshots]"), out
    assert by["getPrimaryKeys"].endswith("pyi.keyed [tenant, id]"), out
    assert "rows=300 sum(id)=44850 label=b3-60" in by["statement"], out
    assert "param=250 rows=49 sum(id)=13475" in by["prepared"], out
    assert "c_dec_38_10=112345678901234567.0001000123" in by["values"], out


def test_jdbc_no_auth(java, pyi_server):
    assert_full_run(*run_check(java, pyi_server))


def test_jdbc_user_password(java, auth_server):
    assert_full_run(*run_check(java, auth_server, "--user", "alice", "--password", AUTH_USERS["alice"]))


def test_jdbc_token(java, auth_server):
    assert_full_run(*run_check(java, auth_server, "--token", AUTH_TOKEN))


def test_jdbc_wrong_password_is_unauthenticated(java, auth_server):
    rc, lines, out = run_check(java, auth_server, "--user", "alice", "--password", "wrong", "--expect-auth-failure")
    assert rc == 0, out
    assert lines and lines[0].startswith("OK auth_rejected"), out


def test_jdbc_checker_fails_on_wrong_expectation(java, pyi_server):
    """The checker itself must be able to fail: a wrong expected row count."""
    rc, lines, out = run_check(java, pyi_server, "--query-rows", "301")
    assert rc == 1, out
    assert any(l.startswith("FAIL statement") and "expected 301" in l for l in lines), out
