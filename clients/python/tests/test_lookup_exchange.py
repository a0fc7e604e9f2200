"""The lookup service (Flight DoExchange) against a demo warehouse of its own,
with the example clients in clients/python/examples/lookup_exchange.py and
clients/go/lookupexchange.

Probe events enriched with shop names and device positions equal SQL left
joins of the same snapshot, in every mode (full, partial, none) and from
many exchanges at once. While PyIceberg commits updates to mall.shops, one
long exchange keeps answering: every answer is the table at the snapshot it
names, and the last commit is seen within a few refresh intervals.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pyarrow as pa
import pyarrow.flight as flight
import pytest
from pyiceberg.catalog.sql import SqlCatalog

from conftest import PY_CLIENT_DIR, REPO

sys.path.insert(0, str(PY_CLIENT_DIR / "examples"))
import lookup_exchange  # noqa: E402

REFRESH = "200ms"
EVENTS = 20_000
MODES = ["full", "partial", "none"]


@pytest.fixture(scope="module")
def lk(lakeflight_bin, start_server, tmp_path_factory):
    """(server, PyIceberg catalog of its warehouse) for a demo warehouse
    of this module's own: the tests commit to it."""
    d = tmp_path_factory.mktemp("lookupdemo")
    s = start_server("lookup", [lakeflight_bin, "serve", "--demo", "--demo-events", str(EVENTS), "--warehouse", str(d),
                                "--listen", "127.0.0.1:0", "--lookup-refresh", REFRESH])
    cat = SqlCatalog("default", uri=f"sqlite:///{d}/catalog.db", warehouse=f"file://{d}/warehouse")
    return s, cat


@pytest.fixture(scope="module")
def events(lk, adbc_connect):
    """Every probe event's id and keys, in id order."""
    conn = adbc_connect(lk[0])
    with conn.cursor() as cur:
        cur.execute("SELECT id, shop_code, user_device_mac FROM mall.probe_events ORDER BY id")
        return cur.fetch_arrow_table()


def sql(conn, query: str) -> pa.Table:
    with conn.cursor() as cur:
        cur.execute(query)
        return cur.fetch_arrow_table()


def exchange(server, request: bytes, batches) -> tuple[pa.Table, list[dict]]:
    client = flight.FlightClient(server.uri)
    try:
        answers, metas = [], []
        for answer, meta in lookup_exchange.enrich(client, request, batches):
            answers.append(answer)
            metas.append(meta)
        return pa.Table.from_batches(answers), metas
    finally:
        client.close()


DIMS = {
    "mall.shops": ("shop_code", ["shop_name", "floor"]),
    "mall.device_places": ("user_device_mac", ["x", "y", "min_rssi"]),
}


def joined(conn, table: str, snapshot: int) -> dict[int, dict]:
    """id -> the dimension columns of the SQL left join, table at snapshot."""
    key, cols = DIMS[table]
    sel = ", ".join(f"d.{c}" for c in cols)
    t = sql(conn, f"SELECT e.id, {sel} FROM mall.probe_events e LEFT JOIN {table} FOR VERSION AS OF {snapshot} d "
                  f"ON e.{key} = d.{key}")
    return {r.pop("id"): r for r in t.to_pylist()}


def check_against_join(conn, table: str, result: pa.Table, metas: list[dict], what: str) -> None:
    snaps = {m["snapshot"] for m in metas}
    assert len(snaps) == 1, f"{what}: answers from several snapshots {snaps} with no commit"
    want = joined(conn, table, snaps.pop())
    _, cols = DIMS[table]
    got = result.select(["id", *cols]).to_pylist()
    assert len(got) == len(want), what
    for row in got:
        i = row.pop("id")
        assert row == want[i], f"{what}: id {i}: {row} != {want[i]}"
    assert sum(m["misses"] for m in metas) == sum(1 for r in want.values() if r[DIMS[table][1][0]] is None)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("table", list(DIMS))
def test_enrich_equals_sql_join(lk, events, adbc_connect, table, mode):
    server, _ = lk
    key, cols = DIMS[table]
    req = lookup_exchange.lookup_request(table, keys=[key], columns=cols, mode=mode)
    result, metas = exchange(server, req, events.to_batches(max_chunksize=1000))
    assert len(metas) == len(events.to_batches(max_chunksize=1000))
    # The input's columns come back as sent, then the looked-up ones.
    assert result.column_names == ["id", "shop_code", "user_device_mac", *cols]
    assert result.select(["id", "shop_code", "user_device_mac"]).equals(events)
    check_against_join(adbc_connect(server), table, result, metas, f"{table} {mode}")


def test_unknown_keys_and_errors(lk):
    server, _ = lk
    batch = pa.record_batch({"shop_code": ["S0001", None, "NOPE"]})
    result, metas = exchange(server, lookup_exchange.lookup_request("mall.shops", columns=["shop_name"], found="found"), [batch])
    assert result.column("found").to_pylist() == [True, False, False]
    assert result.column("shop_name").null_count == 2 and metas[0]["misses"] == 2

    with pytest.raises(pa.ArrowInvalid) as e:
        exchange(server, lookup_exchange.lookup_request("mall.shops", columns=["shop_nam"]), [batch])
    assert "shop_nam" in str(e.value)
    with pytest.raises(pa.ArrowKeyError) as e:
        exchange(server, lookup_exchange.lookup_request("mall.nope"), [batch])
    assert "mall.nope" in str(e.value)
    with pytest.raises(pa.ArrowInvalid) as e:
        exchange(server, lookup_exchange.lookup_request("mall.shops"), [pa.record_batch({"code": ["S0001"]})])
    assert "shop_code" in str(e.value)


def test_many_exchanges_at_once(lk, events, adbc_connect):
    server, _ = lk
    batches = events.to_batches(max_chunksize=500)

    def one(i):
        table = list(DIMS)[i % 2]
        key, cols = DIMS[table]
        mode = MODES[i % 3]
        result, metas = exchange(server, lookup_exchange.lookup_request(table, keys=[key], columns=cols, mode=mode), batches)
        return table, mode, result, metas

    with ThreadPoolExecutor(8) as pool:
        done = list(pool.map(one, range(12)))
    conn = adbc_connect(server)
    for table, mode, result, metas in done:
        check_against_join(conn, table, result, metas, f"{table} {mode} (concurrent)")


def test_python_example(lk):
    server, _ = lk
    p = subprocess.run([sys.executable, str(PY_CLIENT_DIR / "examples" / "lookup_exchange.py"), server.uri,
                        "--events", "2500", "--batch", "1000", "--show", "2"],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert "mall.shops: 2500 rows in 3 batches, 0 misses" in p.stdout, p.stdout
    assert "mall.device_places: 2500 rows in 3 batches, 0 misses" in p.stdout, p.stdout


def test_go_example(lk, events, adbc_connect):
    server, _ = lk
    go = shutil.which("go")
    if go is None:
        pytest.fail("`go` is not on PATH: needed to run clients/go/lookupexchange")
    p = subprocess.run([go, "run", "./clients/go/lookupexchange", "-addr", server.hostport, "-events", "3000",
                        "-batch", "700", "-json", "-table", "mall.device_places", "-key", "user_device_mac",
                        "-columns", "x,y,min_rssi"],
                       cwd=str(REPO), capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr
    rows = [json.loads(line) for line in p.stdout.splitlines()]
    assert [r["id"] for r in rows] == events.column("id").to_pylist()[:3000]
    t = sql(adbc_connect(server), "SELECT e.id, d.x, d.y, d.min_rssi FROM mall.probe_events e "
                                  "LEFT JOIN mall.device_places d ON e.user_device_mac = d.user_device_mac")
    want = {r.pop("id"): r for r in t.to_pylist()}
    for r in rows:
        i = r["id"]
        assert {"x": r["x"], "y": r["y"], "min_rssi": r["min_rssi"]} == want[i], i


class Expected:
    """mall.shops at each snapshot, read with PyIceberg."""

    def __init__(self, cat):
        self.cat = cat
        self.by_snapshot: dict[int, dict[str, str]] = {}

    def __call__(self, snapshot: int) -> dict[str, str]:
        if snapshot not in self.by_snapshot:
            t = self.cat.load_table("mall.shops").scan(snapshot_id=snapshot, selected_fields=("shop_code", "shop_name")).to_arrow()
            self.by_snapshot[snapshot] = dict(zip(t.column("shop_code").to_pylist(), t.column("shop_name").to_pylist()))
        return self.by_snapshot[snapshot]


@pytest.mark.parametrize("mode", ["full", "partial"])
def test_fresh_while_committing(lk, mode):
    """One exchange streams small batches of every shop code (and two that
    do not exist yet) while PyIceberg commits renames, a new shop and a
    delete. Each answer equals mall.shops at the snapshot it names; the last
    commit is answered within a few refresh intervals."""
    server, cat = lk
    tbl = cat.load_table("mall.shops")
    codes = sorted(tbl.scan(selected_fields=("shop_code",)).to_arrow().column("shop_code").to_pylist())
    tag = f"{mode}-new"
    probe = codes + [f"N{tag}1", f"N{tag}2"]
    stop = threading.Event()

    def batches():
        i = 0
        while not stop.is_set():
            # Small batches of 7 keys, so that the server coalesces some.
            yield pa.record_batch({"seq": pa.array([i] * 7, pa.int64()), "shop_code": [probe[(i * 7 + j) % len(probe)] for j in range(7)]})
            i += 1
            time.sleep(0.002)

    answers: list[tuple[float, pa.RecordBatch, dict]] = []
    failure: list[BaseException] = []

    def run():
        client = flight.FlightClient(server.uri)
        try:
            req = lookup_exchange.lookup_request("mall.shops", columns=["shop_name"], mode=mode)
            for answer, meta in lookup_exchange.enrich(client, req, batches()):
                answers.append((time.monotonic(), answer, meta))
        except BaseException as e:  # noqa: BLE001
            failure.append(e)
        finally:
            client.close()

    th = threading.Thread(target=run, daemon=True)
    th.start()
    time.sleep(0.5)

    shops_schema = tbl.scan().to_arrow().schema
    snapshots = [tbl.current_snapshot().snapshot_id]
    committed_at = []

    def commit(fn):
        t = cat.load_table("mall.shops")
        fn(t)
        committed_at.append(time.monotonic())
        snapshots.append(cat.load_table("mall.shops").current_snapshot().snapshot_id)
        time.sleep(0.4)

    def renamed(t, which, suffix):
        rows = t.scan(row_filter=f"shop_code IN ({', '.join(repr(c) for c in which)})").to_arrow()
        names = [f"{n} {suffix}" for n in rows.column("shop_name").to_pylist()]
        return rows.set_column(rows.schema.get_field_index("shop_name"), "shop_name", pa.array(names, pa.string()))

    commit(lambda t: t.upsert(renamed(t, codes[:5], "v2").cast(shops_schema), join_cols=["shop_code"]))
    new = pa.table({"shop_code": [f"N{tag}1"], "shop_name": ["Brand New"], "category": ["food"], "floor": [2],
                    "opened": pa.array([None], pa.date32())}).cast(shops_schema)
    commit(lambda t: t.append(new))
    commit(lambda t: t.delete(f"shop_code = '{codes[5]}'"))
    commit(lambda t: t.upsert(renamed(t, codes[:2], "v3").cast(shops_schema), join_cols=["shop_code"]))
    last = snapshots[-1]

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not failure:
        if any(m["snapshot"] == last for _, _, m in answers[-50:]):
            break
        time.sleep(0.05)
    stop.set()
    th.join(timeout=60)
    assert not failure, failure
    seen_at = next((at for at, _, m in answers if m["snapshot"] == last), None)
    assert seen_at is not None, f"the last commit {last} was never answered from; snapshots seen {sorted({m['snapshot'] for _, _, m in answers})}"
    print(f"{mode}: last commit answered {seen_at - committed_at[-1]:.2f}s after it was committed (refresh {REFRESH})")

    expected = Expected(cat)
    seen = set()
    for _, answer, meta in answers:
        snap = meta["snapshot"]
        seen.add(snap)
        want = expected(snap)
        got = answer.to_pylist()
        for r in got:
            assert r["shop_name"] == want.get(r["shop_code"]), f"snapshot {snap}: {r}"
        assert meta["misses"] == sum(1 for r in got if r["shop_code"] not in want)
    # Answers came from the first snapshot and the last, and in commit order.
    assert snapshots[0] in seen and last in seen
    order = [meta["snapshot"] for _, _, meta in answers]
    history = [s.snapshot_id for s in cat.load_table("mall.shops").snapshots()]
    positions = [history.index(s) for s in order]
    assert positions == sorted(positions), "answers went back to an older snapshot"
