#!/usr/bin/env python3
"""Enrich a stream of keys with dimension rows through lakeflight's lookup
service (Flight DoExchange).

    python lookup_exchange.py grpc://127.0.0.1:8815 --events 3000 --batch 1000

against `lakeflight --demo`: reads probe events (id, shop_code,
user_device_mac) with SQL, then streams them in batches to the lookup
service twice: once for the shop's name and floor (mall.shops), once for
the device's position (mall.device_places).

The exchange starts with a FlightDescriptor command that is JSON:

    {"lookup": "mall.shops", "keys": ["shop_code"], "columns": ["shop_name", "floor"],
     "mode": "partial", "snapshot": 123, "found": "found"}

("keys", "columns", "mode", "snapshot" and "found" are optional.) Each batch
the client writes must hold the key columns by name; its other columns are
carried through. The server answers every batch, in order, with one batch:
the client's columns, then the requested columns (NULL where the key is not
in the table). Each answer's app_metadata is JSON: {"snapshot": S,
"misses": N}, the table snapshot all of its rows were read from.
"""

from __future__ import annotations

import argparse
import itertools
import json
import threading
from typing import Iterable, Iterator

import pyarrow as pa
import pyarrow.flight as flight


def lookup_request(table: str, keys: list[str] | None = None, columns: list[str] | None = None,
                   mode: str | None = None, snapshot: int | None = None, found: str | None = None) -> bytes:
    """The JSON command that opens a lookup exchange."""
    req: dict = {"lookup": table}
    if keys is not None:
        req["keys"] = keys
    if columns is not None:
        req["columns"] = columns
    if mode:
        req["mode"] = mode
    if snapshot:
        req["snapshot"] = snapshot
    if found:
        req["found"] = found
    return json.dumps(req).encode()


def enrich(client: flight.FlightClient, request: bytes, batches: Iterable[pa.RecordBatch],
           options: flight.FlightCallOptions | None = None) -> Iterator[tuple[pa.RecordBatch, dict]]:
    """Streams batches through one lookup exchange and yields, for each
    batch in order, (answer, {"snapshot": S, "misses": N}). Batches are
    written from another thread while answers are read, so the server can
    work on several at once. A request the server refuses raises the
    pyarrow error of its status (ArrowInvalid for INVALID_ARGUMENT,
    ArrowKeyError for NOT_FOUND, FlightUnauthenticatedError, ...)."""
    batches = iter(batches)
    first = next(batches, None)
    if first is None:
        return
    writer, reader = client.do_exchange(flight.FlightDescriptor.for_command(request), options=options)
    writer.begin(first.schema)
    sent = {"n": 0, "error": None}

    def write():
        try:
            for b in itertools.chain([first], batches):
                writer.write_batch(b)
                sent["n"] += 1
            writer.done_writing()
        except Exception as e:  # the reader below reports the server's error
            sent["error"] = e

    th = threading.Thread(target=write, daemon=True)
    th.start()
    got = 0
    try:
        while True:
            try:
                chunk = reader.read_chunk()
            except StopIteration:
                break
            meta = json.loads(chunk.app_metadata.to_pybytes())
            got += 1
            yield chunk.data, meta
    except BaseException:
        # The server's error (or the caller's) is the one to report.
        th.join()
        try:
            writer.close()
        except Exception:
            pass
        raise
    th.join()
    writer.close()
    if sent["error"] is not None and got < sent["n"]:
        raise sent["error"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("uri", nargs="?", default="grpc://127.0.0.1:8815")
    ap.add_argument("--events", type=int, default=3000, help="probe events to enrich")
    ap.add_argument("--batch", type=int, default=1000, help="rows per batch sent")
    ap.add_argument("--mode", choices=["full", "partial", "none"], help="how the server keeps the tables (default: its configuration)")
    ap.add_argument("--show", type=int, default=5, help="rows of each result to print")
    ap.add_argument("--token", help="bearer token, for a server started with --token")
    args = ap.parse_args()

    import adbc_driver_flightsql.dbapi as flightsql

    db_kwargs = {"adbc.flight.sql.authorization_header": f"Bearer {args.token}"} if args.token else {}
    with flightsql.connect(args.uri, db_kwargs=db_kwargs, autocommit=True) as conn, conn.cursor() as cur:
        cur.execute(f"SELECT id, shop_code, user_device_mac FROM mall.probe_events ORDER BY id LIMIT {int(args.events)}")
        events = cur.fetch_arrow_table()
    batches = events.to_batches(max_chunksize=args.batch)

    client = flight.FlightClient(args.uri)
    options = flight.FlightCallOptions(headers=[(b"authorization", f"Bearer {args.token}".encode())]) if args.token else None
    for table, key, columns in (("mall.shops", "shop_code", ["shop_name", "floor"]),
                                ("mall.device_places", "user_device_mac", ["x", "y"])):
        req = lookup_request(table, keys=[key], columns=columns, mode=args.mode)
        answers, snapshots, misses = [], set(), 0
        for answer, meta in enrich(client, req, batches, options):
            answers.append(answer)
            snapshots.add(meta["snapshot"])
            misses += meta["misses"]
        result = pa.Table.from_batches(answers)
        print(f"{table}: {result.num_rows} rows in {len(answers)} batches, {misses} misses, snapshot {', '.join(map(str, sorted(snapshots)))}")
        for row in result.select(["id", key, *columns]).slice(0, args.show).to_pylist():
            print("  " + "  ".join(f"{k}={v}" for k, v in row.items()))


if __name__ == "__main__":
    main()
