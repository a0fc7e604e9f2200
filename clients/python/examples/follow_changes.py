#!/usr/bin/env python3
"""Follow the changes of an Iceberg table served by lakeflight.

    python follow_changes.py grpc://127.0.0.1:8815 mall.probe_events --checkpoint follow.state

Subscribes with a Flight DoGet whose ticket is JSON:

    {"subscribe": "mall.probe_events", "after": <snapshot id>, "poll_ms": 1000, "heartbeat_ms": 5000}

and prints each committed snapshot's changes (rows with _change_type insert,
delete, update_before or update_after). "after" is the last snapshot already
processed: 0 reads the table's whole history first, -1 only what commits
from now on.

The stream's app_metadata says where a snapshot ends: {"snapshot": S,
"done": true} follows the last batch of snapshot S. Only then is S complete;
the checkpoint file records it, so a follower that is stopped (or loses the
server) resumes after the last complete snapshot: no change is missed, and
none is seen twice. Rows of an incomplete snapshot are dropped on a
reconnect and come again in full.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Callable

import pyarrow as pa
import pyarrow.flight as flight


class SchemaChanged(Exception):
    """The table's schema changed: subscribe again to read in the new one."""


def follow_once(uri: str, table: str, after: int,
                on_snapshot: Callable[[int, pa.Table], None],
                should_stop: Callable[[], bool] = lambda: False,
                poll_ms: int = 1000, heartbeat_ms: int = 5000) -> int:
    """Follows table from snapshot `after` over one connection. Calls
    on_snapshot(snapshot_id, changes) for each complete snapshot, in commit
    order, and returns the last complete snapshot when the stream ends or
    should_stop() is true at a message boundary. Raises flight errors as
    they come (the caller reconnects) and SchemaChanged."""
    ticket = json.dumps({"subscribe": table, "after": after, "poll_ms": poll_ms, "heartbeat_ms": heartbeat_ms})
    client = flight.FlightClient(uri)
    try:
        reader = client.do_get(flight.Ticket(ticket.encode()))
        pending: list[pa.RecordBatch] = []
        while not should_stop():
            try:
                chunk = reader.read_chunk()
            except StopIteration:
                break
            meta = json.loads(chunk.app_metadata.to_pybytes()) if chunk.app_metadata else {}
            if chunk.data is not None and chunk.data.num_rows > 0:
                pending.append(chunk.data)
            if meta.get("done"):
                snap = meta["snapshot"]
                changes = pa.Table.from_batches(pending, schema=reader.schema)
                pending = []
                on_snapshot(snap, changes)
                after = snap
            if meta.get("schema_changed"):
                raise SchemaChanged(after)
        return after
    finally:
        client.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("uri", help="lakeflight address, e.g. grpc://127.0.0.1:8815")
    ap.add_argument("table", help="namespace.table")
    ap.add_argument("--checkpoint", type=Path, help="file keeping the last complete snapshot")
    ap.add_argument("--after", type=int, default=-1, help="start after this snapshot when there is no checkpoint (default -1: from now)")
    ap.add_argument("--json", action="store_true", help="print each snapshot as one JSON line: {snapshot, changes}")
    ap.add_argument("--poll-ms", type=int, default=1000)
    args = ap.parse_args()

    after = args.after
    if args.checkpoint and args.checkpoint.exists():
        after = int(args.checkpoint.read_text().strip())

    def on_snapshot(snap: int, changes: pa.Table) -> None:
        # Output first, then the checkpoint: a follower stopped between the
        # two prints that snapshot again when it resumes (the same rows), so
        # a sink keyed by snapshot id sees every snapshot exactly once.
        if args.json:
            print(json.dumps({"snapshot": snap, "changes": changes.to_pylist()}, default=str), flush=True)
        else:
            print(f"snapshot {snap}: {changes.num_rows} changes")
            for row in changes.to_pylist():
                print("  ", row)
            sys.stdout.flush()
        if args.checkpoint:
            tmp = args.checkpoint.with_suffix(".tmp")
            tmp.write_text(f"{snap}\n")
            tmp.replace(args.checkpoint)

    delay = 1.0
    while True:
        try:
            after = follow_once(args.uri, args.table, after, on_snapshot, poll_ms=args.poll_ms)
            delay = 1.0
        except SchemaChanged:
            print("schema changed: subscribing again", file=sys.stderr)
        except flight.FlightError as e:
            print(f"connection lost ({e}); retrying in {delay:.0f}s", file=sys.stderr)
            time.sleep(delay)
            delay = min(delay * 2, 30.0)


if __name__ == "__main__":
    main()
