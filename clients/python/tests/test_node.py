"""Node: clients/node/check.mjs (@firetiger-oss/flight-sql-client) run as a
subprocess; exit code 0 and its OK lines are asserted. Install it first with
scripts/setup-test-env.sh (npm ci)."""

from __future__ import annotations

import shutil
import subprocess

import pytest

import make_fixtures
from util import AUTH_TOKEN, REPO

NODE_DIR = REPO / "clients" / "node"


@pytest.fixture(scope="module")
def node() -> str:
    n = shutil.which("node")
    if n is None:
        pytest.fail("node is not on PATH")
    if not (NODE_DIR / "node_modules" / "@firetiger-oss" / "flight-sql-client").is_dir():
        pytest.fail(f"{NODE_DIR}/node_modules is missing: run scripts/setup-test-env.sh")
    return n


def run_check(node: str, server, *args: str) -> tuple[int, list[str], str]:
    argv = [node, "check.mjs", "--host", server.host, "--port", str(server.port), *args]
    p = subprocess.run(argv, capture_output=True, text=True, timeout=180, cwd=str(NODE_DIR))
    lines = [l for l in p.stdout.splitlines() if l.startswith(("OK ", "FAIL "))]
    return p.returncode, lines, f"exit {p.returncode}\nstdout:\n{p.stdout}\nstderr:\n{p.stderr[-3000:]}"


TABLES = ",".join(make_fixtures.EXPECTED["tables"])


@pytest.mark.parametrize(
    "query,rows,columns,value",
    [
        ("SELECT id, batch, label FROM pyi.snapshots", 300, "id,batch,label", "id=260:label=b3-60"),
        ("SELECT event_id, category FROM pyi.events WHERE event_id < 1000 AND category = 'buy'", 333,
         "event_id,category", "event_id=2:category=buy"),
        ("SELECT tenant, id, name FROM pyi.keyed WHERE id BETWEEN 10 AND 19", 10, "tenant,id,name", "id=13:name=name-13"),
    ],
    ids=["snapshots", "events_filter", "keyed_between"],
)
def test_node_query(node, pyi_server, query, rows, columns, value):
    rc, lines, out = run_check(node, pyi_server, "--query", query, "--expect-rows", str(rows),
                               "--expect-columns", columns, "--expect-value", value,
                               "--schema", "pyi", "--expect-tables", TABLES)
    assert rc == 0, out
    assert [l.split()[1] for l in lines] == ["connect", "query", "execute", "getTables", "all"], out
    assert f"rows={rows} " in lines[1], out


def test_node_token(node, auth_server):
    rc, lines, out = run_check(node, auth_server, "--token", AUTH_TOKEN, "--query",
                               "SELECT id, label FROM pyi.snapshots WHERE batch = 3", "--expect-rows", "100",
                               "--expect-value", "id=299:label=b3-99")
    assert rc == 0, out
    assert "OK all checks passed" in lines, out


def test_node_bad_token_fails(node, auth_server):
    rc, lines, out = run_check(node, auth_server, "--token", "wrong-token", "--query",
                               "SELECT id FROM pyi.snapshots", "--expect-rows", "300")
    assert rc == 1, out
    assert lines and lines[-1].startswith("FAIL"), out
    # The client reports gRPC UNAUTHENTICATED (16) as "Authentication failed".
    assert "Authentication failed" in lines[-1], out
