"""Change subscriptions over pyarrow.flight, with the example follower in
clients/python/examples/follow_changes.py.

A keyed table written by PyIceberg is followed while commits land (appends,
deletes, overwrites). The follower is stopped and started again from its
checkpoint, and the server is restarted, in the middle. At the end every
committed snapshot arrived exactly once, in order, and the changes applied
to the table's first state give its last state.
"""

from __future__ import annotations

import json
import socket
import sys
import threading
import time

import pyarrow as pa
import pyarrow.flight as flight
import pytest
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.expressions import EqualTo, In
from pyiceberg.schema import Schema
from pyiceberg.types import LongType, NestedField, StringType

from conftest import PY_CLIENT_DIR

sys.path.insert(0, str(PY_CLIENT_DIR / "examples"))
import follow_changes  # noqa: E402

SCHEMA = Schema(
    NestedField(1, "id", LongType(), required=True),
    NestedField(2, "v", StringType(), required=False),
    identifier_field_ids=[1],
)
ARROW = pa.schema([pa.field("id", pa.int64(), nullable=False), pa.field("v", pa.string())])


def rows(ids, tag):
    return pa.table({"id": pa.array(ids, pa.int64()), "v": [f"{tag}{i}" for i in ids]}, schema=ARROW)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture()
def keyed(tmp_path):
    cat = SqlCatalog("default", uri=f"sqlite:///{tmp_path}/catalog.db", warehouse=f"file://{tmp_path}/warehouse")
    cat.create_namespace("live")
    t = cat.create_table("live.keyed", SCHEMA)
    t.append(rows(range(1, 6), "a"))
    return tmp_path, cat


class Collector:
    def __init__(self):
        self.snapshots: list[int] = []
        self.changes: list[dict] = []
        self.lock = threading.Lock()

    def __call__(self, snap, table):
        with self.lock:
            self.snapshots.append(snap)
            for r in table.to_pylist():
                assert r["_commit_snapshot_id"] == snap, r
                self.changes.append(r)


def test_follow_commits_across_client_and_server_restarts(keyed, lakeflight_bin, start_server):
    d, cat = keyed
    port = free_port()
    argv = [lakeflight_bin, "serve", "--catalog-uri", f"sqlite:///{d}/catalog.db", "--warehouse", f"file://{d}/warehouse",
            "--listen", f"127.0.0.1:{port}"]
    server = start_server("follow", argv)
    uri = f"grpc://127.0.0.1:{port}"
    t = cat.load_table("live.keyed")
    first = t.current_snapshot().snapshot_id
    start_state = {r["id"]: r["v"] for r in t.scan().to_arrow().to_pylist()}

    got = Collector()
    stop = threading.Event()
    checkpoint = {"after": first}

    def run_follower():
        # Reconnects until told to stop, resuming after the last complete
        # snapshot, as the example's main loop does.
        while not stop.is_set():
            try:
                checkpoint["after"] = follow_changes.follow_once(
                    uri, "live.keyed", checkpoint["after"], lambda s, c: (got(s, c), checkpoint.update(after=s)),
                    should_stop=stop.is_set, poll_ms=50, heartbeat_ms=200)
            except flight.FlightError:
                time.sleep(0.2)

    def start_follower():
        stop.clear()
        th = threading.Thread(target=run_follower, daemon=True)
        th.start()
        return th

    def wait_for(n, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with got.lock:
                if len(got.snapshots) >= n:
                    return
            time.sleep(0.05)
        pytest.fail(f"received {len(got.snapshots)} snapshots, want {n}\n{server.logs()}")

    follower = start_follower()
    commits = []

    def pending():
        # Every snapshot after the first (an overwrite commits two).
        history = [s.snapshot_id for s in cat.load_table("live.keyed").snapshots()]
        return len(history) - history.index(first) - 1

    def commit(fn):
        fn(cat.load_table("live.keyed"))
        commits.append(cat.load_table("live.keyed").current_snapshot().snapshot_id)

    commit(lambda t: t.append(rows([6, 7], "b")))
    commit(lambda t: t.delete(EqualTo("id", 2)))
    wait_for(pending())

    # The client stops (its process would exit) and starts again from its
    # checkpoint; commits land while it is away.
    stop.set()
    follower.join(timeout=10)
    commit(lambda t: t.overwrite(rows([3], "c"), overwrite_filter=EqualTo("id", 3)))
    commit(lambda t: t.append(rows([8], "b")))
    follower = start_follower()
    wait_for(pending())

    # The server restarts on the same address; the follower reconnects.
    server.stop()
    commit(lambda t: t.delete(In("id", [4, 8])))
    server = start_server("follow-restarted", argv)
    commit(lambda t: t.append(rows([9, 10], "d")))
    wait_for(pending())
    stop.set()
    follower.join(timeout=10)

    # Every snapshot after the first, once, in commit order (an overwrite
    # commits two: its delete and its append).
    history = [s.snapshot_id for s in cat.load_table("live.keyed").snapshots()]
    want = history[history.index(first) + 1:]
    assert set(commits) <= set(want)
    assert got.snapshots == want, (got.snapshots, want)
    state = dict(start_state)
    for c in got.changes:
        if c["_change_type"] in ("delete", "update_before"):
            assert state.pop(c["id"]) == c["v"], c
        else:
            assert c["id"] not in state, c
            state[c["id"]] = c["v"]
    final = {r["id"]: r["v"] for r in cat.load_table("live.keyed").scan().to_arrow().to_pylist()}
    assert state == final


def test_subscription_errors(keyed, lakeflight_bin, start_server):
    d, cat = keyed
    server = start_server("follow-errors", [lakeflight_bin, "serve", "--catalog-uri", f"sqlite:///{d}/catalog.db",
                                            "--warehouse", f"file://{d}/warehouse", "--listen", "127.0.0.1:0"])
    client = flight.FlightClient(server.uri)
    try:
        # pyarrow raises NotFound as ArrowKeyError, InvalidArgument as
        # ArrowInvalid.
        cases = [
            ({"subscribe": "live.keyed", "after": 12345}, pa.ArrowKeyError, "NOT_FOUND", "12345"),
            ({"subscribe": "live.nope", "after": 0}, pa.ArrowKeyError, "NOT_FOUND", "nope"),
            ({"subscribe": "keyed", "after": 0}, pa.ArrowInvalid, "INVALID_ARGUMENT", "namespace.table"),
            ({"subscribe": "live.keyed", "after": -5}, pa.ArrowInvalid, "INVALID_ARGUMENT", "-5"),
        ]
        for ticket, exc, code, word in cases:
            with pytest.raises(exc) as e:
                client.do_get(flight.Ticket(json.dumps(ticket).encode())).read_all()
            assert code in str(e.value) and word in str(e.value), (ticket, str(e.value))
    finally:
        client.close()


def test_follower_process_killed_and_restarted(keyed, lakeflight_bin, start_server, tmp_path):
    """The example follower runs as its own process with a checkpoint file;
    it is killed (SIGKILL) and started again, and the server is restarted,
    while commits land. Its output, keyed by snapshot, holds every snapshot
    after the start exactly once (a snapshot printed again after a kill
    repeats the same rows)."""
    import os
    import signal
    import subprocess

    d, cat = keyed
    port = free_port()
    argv = [lakeflight_bin, "serve", "--catalog-uri", f"sqlite:///{d}/catalog.db", "--warehouse", f"file://{d}/warehouse",
            "--listen", f"127.0.0.1:{port}"]
    server = start_server("follow-kill", argv)
    first = cat.load_table("live.keyed").current_snapshot().snapshot_id
    checkpoint = tmp_path / "follow.state"
    out = tmp_path / "follow.out"
    script = str(PY_CLIENT_DIR / "examples" / "follow_changes.py")

    def start_follower():
        return subprocess.Popen([sys.executable, script, f"grpc://127.0.0.1:{port}", "live.keyed", "--checkpoint", str(checkpoint),
                                 "--after", str(first), "--json", "--poll-ms", "50"],
                                stdout=open(out, "a"), stderr=subprocess.DEVNULL, start_new_session=True)

    def printed() -> dict[int, list]:
        seen: dict[int, list] = {}
        for line in out.read_text().splitlines():
            rec = json.loads(line)
            rows = sorted(json.dumps(r, sort_keys=True) for r in rec["changes"])
            assert seen.get(rec["snapshot"], rows) == rows, "a snapshot printed twice with other rows"
            seen[rec["snapshot"]] = rows
        return seen

    def wait_for(n, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if out.exists() and len(printed()) >= n:
                return
            time.sleep(0.05)
        pytest.fail(f"the follower printed {len(printed()) if out.exists() else 0} snapshots, want {n}\n{server.logs()}")

    def history():
        snaps = [s.snapshot_id for s in cat.load_table("live.keyed").snapshots()]
        return snaps[snaps.index(first) + 1:]

    proc = start_follower()
    try:
        cat.load_table("live.keyed").append(rows([6, 7], "b"))
        cat.load_table("live.keyed").delete(EqualTo("id", 2))
        wait_for(len(history()))
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        cat.load_table("live.keyed").append(rows([8], "b"))
        proc = start_follower()
        wait_for(len(history()))
        server.stop()
        cat.load_table("live.keyed").delete(In("id", [4, 8]))
        server = start_server("follow-kill-restarted", argv)
        cat.load_table("live.keyed").append(rows([9], "d"))
        wait_for(len(history()))
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    seen = printed()
    assert sorted(seen) == sorted(history())
    assert int(checkpoint.read_text()) == history()[-1]


def test_resubscribe_across_two_schema_changes(keyed, lakeflight_bin, start_server):
    """Two columns added, each followed by an append: a subscriber from
    before both reads the first snapshot in its schema, is told the schema
    changed, and subscribing again from there reads the next one, and so
    on; it is never told to resubscribe from where it already is."""
    from pyiceberg.types import IntegerType

    d, cat = keyed
    first = cat.load_table("live.keyed").current_snapshot().snapshot_id
    want = []
    for col, i in (("x1", 11), ("x2", 12)):
        t = cat.load_table("live.keyed")
        with t.update_schema() as u:
            u.add_column(col, IntegerType())
        t = cat.load_table("live.keyed")
        t.append(pa.Table.from_pylist([{"id": i, "v": "s"}], schema=t.schema().as_arrow()))
        want.append(cat.load_table("live.keyed").current_snapshot().snapshot_id)
    server = start_server("follow-schemas", [lakeflight_bin, "serve", "--catalog-uri", f"sqlite:///{d}/catalog.db",
                                             "--warehouse", f"file://{d}/warehouse", "--listen", "127.0.0.1:0"])
    client = flight.FlightClient(server.uri)
    try:
        after, done, ids = first, [], []
        for _ in range(4):
            ticket = {"subscribe": "live.keyed", "after": after, "poll_ms": 20, "heartbeat_ms": 100}
            reader = client.do_get(flight.Ticket(json.dumps(ticket).encode()))
            while len(done) < len(want):
                chunk = reader.read_chunk()
                meta = json.loads(chunk.app_metadata.to_pybytes()) if chunk.app_metadata else {}
                if chunk.data is not None and chunk.data.num_rows:
                    assert chunk.data.schema.names[:len(chunk.data.schema) - 4] == reader.schema.names[:len(reader.schema) - 4]
                    ids += chunk.data.column("id").to_pylist()
                if meta.get("schema_changed"):
                    assert meta["snapshot"] == after or meta["snapshot"] in done, meta
                    after = meta["snapshot"]
                    break
                if meta.get("done"):
                    done.append(meta["snapshot"])
                    after = meta["snapshot"]
            reader.cancel()
            if len(done) == len(want):
                break
        assert done == want and ids == [11, 12], (done, ids, want)
    finally:
        client.close()


def test_first_message_before_any_commit(keyed, lakeflight_bin, start_server):
    """The schema and a heartbeat come at once, while nothing commits: a
    client can open its reader and knows where it stands."""
    d, cat = keyed
    current = cat.load_table("live.keyed").current_snapshot().snapshot_id
    server = start_server("follow-first", [lakeflight_bin, "serve", "--catalog-uri", f"sqlite:///{d}/catalog.db",
                                           "--warehouse", f"file://{d}/warehouse", "--listen", "127.0.0.1:0"])
    client = flight.FlightClient(server.uri)
    try:
        ticket = {"subscribe": "live.keyed", "after": -1, "poll_ms": 20, "heartbeat_ms": 100}
        reader = client.do_get(flight.Ticket(json.dumps(ticket).encode()), flight.FlightCallOptions(timeout=5))
        assert reader.schema.names[:2] == ["id", "v"]
        chunk = reader.read_chunk()
        meta = json.loads(chunk.app_metadata.to_pybytes())
        assert meta == {"snapshot": current, "heartbeat": True}, meta
        assert chunk.data is None or chunk.data.num_rows == 0
        reader.cancel()
    finally:
        client.close()
