"""Time travel and changes over a randomized history of 120 snapshots,
written by PyIceberg and checked against PyIceberg's own reads.

- `FOR VERSION AS OF <id>` on every snapshot equals PyIceberg's
  `scan(snapshot_id=id)`, over ADBC;
- the changes of every snapshot, streamed by a subscription from the
  start (pyarrow.flight), compose: for every pair of snapshots a < b, the
  table at a with the changes of (a, b] applied by key equals the table at
  b.
"""

from __future__ import annotations

import datetime as dt
import json
import random

import pyarrow as pa
import pyarrow.flight as flight
import pytest
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.expressions import EqualTo, In
from pyiceberg.schema import Schema
from pyiceberg.types import IntegerType, LongType, NestedField, StringType

from util import sorted_rows

SNAPSHOTS = 120
SCHEMA = Schema(
    NestedField(1, "id", LongType(), required=True),
    NestedField(2, "v", StringType(), required=False),
    NestedField(3, "n", IntegerType(), required=False),
    identifier_field_ids=[1],
)
ARROW = pa.schema([pa.field("id", pa.int64(), nullable=False), pa.field("v", pa.string()), pa.field("n", pa.int32())])


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    d = tmp_path_factory.mktemp("history")
    cat = SqlCatalog("default", uri=f"sqlite:///{d}/catalog.db", warehouse=f"file://{d}/warehouse")
    cat.create_namespace("hist")
    t = cat.create_table("hist.keyed", SCHEMA)
    rng = random.Random(20261123)
    live: set[int] = set()
    next_id = 1
    step = 0
    while len(t.snapshots()) < SNAPSHOTS:
        step += 1
        op = rng.randrange(10) if len(live) >= 5 else 0
        if op < 5:
            ids = list(range(next_id, next_id + rng.randint(1, 6)))
            next_id += len(ids)
            live.update(ids)
            t.append(pa.table({"id": ids, "v": [f"v{i}.{step}" for i in ids],
                               "n": [rng.choice([None, rng.randint(-5, 5)]) for _ in ids]}, schema=ARROW))
        elif op < 8:
            gone = rng.sample(sorted(live), rng.randint(1, 2))
            live.difference_update(gone)
            t.delete(In("id", gone) if len(gone) > 1 else EqualTo("id", gone[0]))
        else:
            i = rng.choice(sorted(live))
            t.overwrite(pa.table({"id": [i], "v": [f"u{i}.{step}"], "n": [step]}, schema=ARROW),
                        overwrite_filter=EqualTo("id", i))
        t = cat.load_table("hist.keyed")
    snaps = [s.snapshot_id for s in t.snapshots()]
    states = {s: t.scan(snapshot_id=s).to_arrow() for s in snaps}
    return d, cat, snaps, states


@pytest.fixture(scope="module")
def hist_server(history, lakeflight_bin, start_server):
    d = history[0]
    return start_server("history", [lakeflight_bin, "serve", "--catalog-uri", f"sqlite:///{d}/catalog.db",
                                    "--warehouse", f"file://{d}/warehouse", "--listen", "127.0.0.1:0"])


def test_time_travel_to_every_snapshot_equals_pyiceberg(history, hist_server, adbc_connect):
    _, _, snaps, states = history
    assert len(snaps) >= 100
    conn = adbc_connect(hist_server)
    cur = conn.cursor()
    try:
        for s in snaps:
            cur.execute(f"SELECT id, v, n FROM hist.keyed FOR VERSION AS OF {s}")
            got = cur.fetch_arrow_table()
            want = states[s]
            assert sorted_rows(got, ["id"]) == sorted_rows(want.select(["id", "v", "n"]), ["id"]), f"snapshot {s}"
    finally:
        cur.close()


def by_key(tbl: pa.Table) -> dict[int, tuple]:
    return {r["id"]: (r["v"], r["n"]) for r in tbl.to_pylist()}


@pytest.fixture(scope="module")
def per_snapshot(history, hist_server):
    """Every snapshot's changes, from a subscription that starts at the
    beginning and stops after the last snapshot is done."""
    snaps = history[2]
    client = flight.FlightClient(hist_server.uri)
    per_snap: dict[int, list[dict]] = {}
    try:
        ticket = json.dumps({"subscribe": "hist.keyed", "after": 0, "poll_ms": 50, "heartbeat_ms": 1000})
        reader = client.do_get(flight.Ticket(ticket.encode()))
        pending: list[dict] = []
        while len(per_snap) < len(snaps):
            chunk = reader.read_chunk()
            meta = json.loads(chunk.app_metadata.to_pybytes()) if chunk.app_metadata else {}
            if chunk.data is not None:
                pending.extend(pa.Table.from_batches([chunk.data]).to_pylist())
            if meta.get("done"):
                per_snap[meta["snapshot"]] = pending
                pending = []
        reader.cancel()
    finally:
        client.close()
    assert list(per_snap) == snaps
    return per_snap


def test_changes_compose_over_every_pair(history, per_snapshot):
    _, _, snaps, states = history
    per_snap = per_snapshot
    for ai in range(-1, len(snaps)):
        state = by_key(states[snaps[ai]]) if ai >= 0 else {}
        for b in snaps[ai + 1:]:
            for c in per_snap[b]:
                key, row = c["id"], (c["v"], c["n"])
                if c["_change_type"] in ("delete", "update_before"):
                    assert state.pop(key) == row, (b, c)
                else:
                    assert key not in state, (b, c)
                    state[key] = row
            assert state == by_key(states[b]), f"({snaps[ai] if ai >= 0 else 0}, {b}]"


def change_rows(rows) -> list[tuple]:
    return sorted((r["_change_type"], r["id"], r["v"], r["n"] if r["n"] is not None else -999) for r in rows)


def test_table_changes_in_sql(history, per_snapshot, hist_server, adbc_connect):
    """table_changes('hist.keyed', a, b) equals the subscription's changes
    of (a, b], and works under filters, aggregates and joins."""
    _, _, snaps, _ = history
    rng = random.Random(5)
    conn = adbc_connect(hist_server)
    cur = conn.cursor()
    try:
        pairs = [(0, snaps[-1])]
        for _ in range(20):
            i, j = sorted(rng.sample(range(len(snaps)), 2))
            pairs.append((snaps[i], snaps[j]))
        for a, b in pairs:
            lo = 0 if a == 0 else snaps.index(a) + 1
            want = [c for s in snaps[lo:snaps.index(b) + 1] for c in per_snapshot[s]]
            start = "NULL" if a == 0 else str(a)
            cur.execute(f"SELECT id, v, n, _change_type, _commit_snapshot_id FROM table_changes('hist.keyed', {start}, {b})")
            got = cur.fetch_arrow_table().to_pylist()
            assert change_rows(got) == change_rows(want), (a, b)
            # A filter, an aggregate and a join over the same range.
            cur.execute(f"SELECT _change_type, count(*) AS n FROM table_changes('hist.keyed', {start}, {b}) c "
                        f"WHERE c.id % 3 = 0 GROUP BY _change_type")
            counts = dict((r["_change_type"], r["n"]) for r in cur.fetch_arrow_table().to_pylist())
            want_counts: dict[str, int] = {}
            for c in want:
                if c["id"] % 3 == 0:
                    want_counts[c["_change_type"]] = want_counts.get(c["_change_type"], 0) + 1
            assert counts == want_counts, (a, b)
            # A range on the key is pushed into the read (it prunes files and
            # rows); a filter on a value column is not (an update's two rows
            # must both be seen), and both give the rows WHERE keeps.
            for where, keep in [("id BETWEEN 10 AND 60", lambda c: 10 <= c["id"] <= 60),
                                ("v LIKE 'u%' AND id > 5", lambda c: (c["v"] or "").startswith("u") and c["id"] > 5)]:
                cur.execute(f"SELECT id, v, n, _change_type FROM table_changes('hist.keyed', {start}, {b}) WHERE {where}")
                got = cur.fetch_arrow_table().to_pylist()
                assert change_rows(got) == change_rows([c for c in want if keep(c)]), (a, b, where)
        cur.execute(f"EXPLAIN (LOGICAL) SELECT * FROM table_changes('hist.keyed', NULL, {snaps[-1]}) WHERE id < 9 AND v > 'u'")
        plan = cur.fetch_arrow_table().column("plan").to_pylist()
        changes_line = next(line for line in plan if "Changes hist.keyed" in line)
        assert "filter=(id#0 < 9)" in changes_line and "v#" not in changes_line, plan
        cur.execute(f"SELECT count(*) AS n FROM table_changes('hist.keyed', NULL, {snaps[-1]}, 'net') c "
                    f"JOIN hist.keyed FOR VERSION AS OF {snaps[-1]} k ON c.id = k.id AND c.v = k.v")
        joined = cur.fetch_arrow_table().column("n")[0].as_py()
        # The net changes from the start are the final table's rows, all
        # inserts.
        cur.execute(f"SELECT count(*) AS n FROM hist.keyed FOR VERSION AS OF {snaps[-1]}")
        assert joined == cur.fetch_arrow_table().column("n")[0].as_py()
    finally:
        cur.close()


def test_table_changes_errors(history, hist_server, adbc_connect):
    import adbc_driver_manager

    _, _, snaps, _ = history
    conn = adbc_connect(hist_server)
    cur = conn.cursor()
    try:
        for sql, code, word in [
            (f"SELECT * FROM table_changes('hist.keyed', {snaps[5]}, {snaps[2]})", "INVALID_ARGUMENT", str(snaps[5])),
            (f"SELECT * FROM table_changes('hist.keyed', 12345, {snaps[2]})", "NOT_FOUND", "12345"),
            ("SELECT * FROM table_changes('hist.nope', NULL, NULL)", "NOT_FOUND", "nope"),
            (f"SELECT * FROM table_changes('hist.keyed', NULL, {snaps[2]}, 'sideways')", "INVALID_ARGUMENT", "net"),
        ]:
            with pytest.raises(adbc_driver_manager.Error) as e:
                cur.execute(sql)
                cur.fetch_arrow_table()
            assert word in str(e.value), (sql, str(e.value))
            assert code in str(e.value) or code.replace("_", " ").lower() in str(e.value).lower(), (sql, str(e.value))
    finally:
        cur.close()


def test_metadata_tables_equal_pyiceberg(history, hist_server, adbc_connect):
    """"t$snapshots", "t$history", "t$refs", "t$files", "t$manifests" and
    "t$partitions" list what PyIceberg's metadata inspection lists."""
    _, cat, snaps, _ = history
    t = cat.load_table("hist.keyed")
    conn = adbc_connect(hist_server)
    cur = conn.cursor()

    def q(sql):
        cur.execute(sql)
        return cur.fetch_arrow_table().to_pylist()

    try:
        got = q('SELECT snapshot_id, parent_id, operation FROM hist."keyed$snapshots" ORDER BY committed_at, snapshot_id')
        want = [{"snapshot_id": s.snapshot_id, "parent_id": s.parent_snapshot_id,
                 "operation": s.summary.operation.value} for s in t.snapshots()]
        assert sorted(got, key=lambda r: snaps.index(r["snapshot_id"])) == want

        got = q('SELECT snapshot_id, is_current_ancestor FROM hist."keyed$history"')
        assert [r["snapshot_id"] for r in got] == [e.snapshot_id for e in t.history()]
        assert all(r["is_current_ancestor"] for r in got)

        got = q('SELECT name, type, snapshot_id FROM hist."keyed$refs"')
        want_refs = [{"name": n, "type": r.snapshot_ref_type.value.upper(), "snapshot_id": r.snapshot_id}
                     for n, r in t.metadata.refs.items()]
        assert sorted(got, key=repr) == sorted(want_refs, key=repr)
        assert {"name": "main", "type": "BRANCH", "snapshot_id": t.current_snapshot().snapshot_id} in got

        got = q('SELECT file_path, record_count FROM hist."keyed$files"')
        want = t.inspect.files().select(["file_path", "record_count"]).to_pylist()
        assert sorted(got, key=repr) == sorted(want, key=repr)
        assert sum(r["record_count"] for r in got) >= t.scan().to_arrow().num_rows

        got = q('SELECT path FROM hist."keyed$manifests"')
        assert sorted(r["path"] for r in got) == sorted(m.manifest_path for m in t.current_snapshot().manifests(t.io))

        got = q('SELECT record_count, file_count FROM hist."keyed$partitions"')
        assert len(got) == 1 and got[0]["file_count"] == len(want)

        with pytest.raises(Exception) as e:
            q('SELECT * FROM hist."keyed$nope"')
        assert "snapshots" in str(e.value) and "nope" in str(e.value)
    finally:
        cur.close()


def test_time_travel_spellings_tags_and_timestamps(history, hist_server, adbc_connect):
    """Spark's VERSION AS OF / TIMESTAMP AS OF, Flink's FOR SYSTEM_TIME AS
    OF, tags and branches all pin the snapshot they name."""
    _, cat, snaps, states = history
    t = cat.load_table("hist.keyed")
    mid = snaps[len(snaps) // 2]
    if t.metadata.refs.get("mid") is None:
        t.manage_snapshots().create_tag(mid, "mid").create_branch(snaps[10], "old").commit()
    ts = {s.snapshot_id: s.timestamp_ms for s in t.snapshots()}
    at = dt.datetime.fromtimestamp(ts[mid] / 1000, tz=dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")
    conn = adbc_connect(hist_server)
    cur = conn.cursor()

    def ids(sql):
        cur.execute(sql)
        return sorted(cur.fetch_arrow_table().column("id").to_pylist())

    try:
        want = sorted(states[mid].column("id").to_pylist())
        assert ids(f"SELECT id FROM hist.keyed VERSION AS OF {mid}") == want
        assert ids("SELECT id FROM hist.keyed FOR VERSION AS OF 'mid'") == want
        assert ids("SELECT id FROM hist.keyed k VERSION AS OF 'mid'") == want
        assert ids("SELECT id FROM hist.keyed FOR VERSION AS OF 'old'") == sorted(states[snaps[10]].column("id").to_pylist())
        # The snapshot current at a time: the last committed at or before it
        # (several may share a millisecond; the latest of those).
        same_ms = [s for s in snaps if ts[s] == ts[mid]]
        want_ts = sorted(states[same_ms[-1]].column("id").to_pylist())
        assert ids(f"SELECT id FROM hist.keyed TIMESTAMP AS OF '{at}'") == want_ts
        assert ids(f"SELECT id FROM hist.keyed FOR SYSTEM_TIME AS OF TIMESTAMP '{at}'") == want_ts
    finally:
        cur.close()
