"""Raw pyarrow.flight: a Flight SQL CommandStatementQuery built by hand (no
generated protobuf code), GetFlightInfo, DoGet of every endpoint; results are
compared with ADBC's. Tampered tickets must be refused."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.flight as flight
import pytest

import make_fixtures
from util import assert_same_rows, command_statement_query, pb_decode_fields

NS = make_fixtures.NAMESPACE
# Bounded calls: a hung server fails the test instead of the run.
OPTS = flight.FlightCallOptions(timeout=120)

QUERIES = [
    (f"SELECT * FROM {NS}.all_types", ["id"]),
    (f"SELECT * FROM {NS}.events WHERE category = 'view' AND user_id < 50", ["event_id"]),
    (f"SELECT * FROM {NS}.nested", ["id"]),
    (f"SELECT id, label FROM {NS}.snapshots WHERE batch >= 2", ["id"]),
]


@pytest.fixture(scope="module")
def fclient(pyi_server):
    c = flight.FlightClient(pyi_server.uri)
    yield c
    c.close()


def flight_info(client: flight.FlightClient, sql: str) -> flight.FlightInfo:
    return client.get_flight_info(flight.FlightDescriptor.for_command(command_statement_query(sql)), OPTS)


def client_for(endpoint: flight.FlightEndpoint, default: flight.FlightClient, opened: list) -> flight.FlightClient:
    """Flight spec: no location (or arrow-flight-reuse-connection://) means
    the server that answered GetFlightInfo; otherwise any listed location."""
    for loc in endpoint.locations:
        uri = loc.uri.decode() if isinstance(loc.uri, bytes) else str(loc.uri)
        if uri.startswith("arrow-flight-reuse-connection:"):
            return default
        c = flight.FlightClient(uri)
        opened.append(c)
        return c
    return default


def read_all_endpoints(client: flight.FlightClient, info: flight.FlightInfo) -> pa.Table:
    opened: list = []
    try:
        parts = [client_for(ep, client, opened).do_get(ep.ticket, OPTS).read_all() for ep in info.endpoints]
    finally:
        for c in opened:
            c.close()
    return pa.concat_tables(parts) if parts else info.schema.empty_table()


def adbc_table(conn, sql: str) -> pa.Table:
    cur = conn.cursor()
    try:
        cur.execute(sql)
        return cur.fetch_arrow_table()
    finally:
        cur.close()


def test_hand_encoded_command_round_trips():
    """Self-check of the hand-written protobuf encoder."""
    raw = command_statement_query("SELECT 1")
    any_fields = pb_decode_fields(raw)
    assert any_fields[0] == (1, 2, b"type.googleapis.com/arrow.flight.protocol.sql.CommandStatementQuery")
    assert pb_decode_fields(any_fields[1][2]) == [(1, 2, b"SELECT 1")]
    long_sql = "SELECT " + ", ".join(f"c{i}" for i in range(100))  # > 127 bytes: multi-byte varint
    assert pb_decode_fields(pb_decode_fields(command_statement_query(long_sql))[1][2]) == [(1, 2, long_sql.encode())]


@pytest.mark.parametrize("sql,keys", QUERIES, ids=["all_types", "events_filter", "nested", "projection"])
def test_get_flight_info_and_do_get_match_adbc(fclient, pyi_conn, sql, keys):
    info = flight_info(fclient, sql)
    assert info.schema is not None, "FlightInfo.schema is missing"
    assert len(info.endpoints) >= 1
    got = read_all_endpoints(fclient, info)
    assert got.schema.names == info.schema.names
    assert [f.type for f in got.schema] == [f.type for f in info.schema], (
        f"DoGet schema differs from FlightInfo.schema:\n{got.schema}\nvs\n{info.schema}"
    )
    want = adbc_table(pyi_conn, sql)
    assert_same_rows(got, want, keys, sql)
    if info.total_records >= 0:
        assert info.total_records == got.num_rows, f"total_records {info.total_records}, streamed {got.num_rows}"


def test_scan_splits_into_several_endpoints(fclient, pyi_catalog):
    """DESIGN.md: plain scans split into several endpoints for parallel readers.
    pyi.events has 30 data files (10 days x 3 categories)."""
    sql = f"SELECT * FROM {NS}.events"
    info = flight_info(fclient, sql)
    assert len(info.endpoints) > 1, f"{sql}: one endpoint for 30 data files"
    got = read_all_endpoints(fclient, info)
    assert got.num_rows == make_fixtures.EXPECTED["row_counts"]["events"]
    assert len(set(got.column("event_id").to_pylist())) == got.num_rows, "endpoints overlap"


def _refused(client: flight.FlightClient, ticket: flight.Ticket) -> BaseException:
    # gRPC errors surface as FlightError subclasses or, for InvalidArgument,
    # NotFound, Unimplemented, as pyarrow's ArrowInvalid/ArrowKeyError/...
    with pytest.raises((flight.FlightError, pa.ArrowException)) as ei:
        client.do_get(ticket, OPTS).read_all()
    return ei.value


@pytest.mark.parametrize("where", ["first", "middle", "last"])
def test_tampered_ticket_is_refused(fclient, where):
    sql = f"SELECT id, label FROM {NS}.snapshots"
    info = flight_info(fclient, sql)
    ticket = bytearray(info.endpoints[0].ticket.ticket)
    assert len(ticket) > 2
    i = {"first": 0, "middle": len(ticket) // 2, "last": len(ticket) - 1}[where]
    ticket[i] ^= 0x01
    err = _refused(fclient, flight.Ticket(bytes(ticket)))
    # A forged ticket is the client's fault, never an internal error.
    assert not isinstance(err, flight.FlightInternalError), f"tampered ticket gave an internal error: {err!r}"
    # The server still answers, and the genuine ticket still works.
    assert fclient.do_get(info.endpoints[0].ticket, OPTS).read_all().num_rows > 0
    again = read_all_endpoints(fclient, flight_info(fclient, sql))
    assert sorted(again.column("id").to_pylist()) == list(range(300))


def test_garbage_tickets_are_refused(fclient):
    for raw in (b"", b"x", b"\x00" * 64, b"SELECT * FROM pyi.snapshots"):
        err = _refused(fclient, flight.Ticket(raw))
        assert not isinstance(err, flight.FlightInternalError), f"ticket {raw!r}: internal error {err!r}"
    assert read_all_endpoints(fclient, flight_info(fclient, f"SELECT id FROM {NS}.keyed")).num_rows == 50
