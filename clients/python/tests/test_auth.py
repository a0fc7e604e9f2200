"""Authentication on the server started with --users-file and --token:
Basic credentials (Handshake returns a bearer token), the static bearer
token, and refusals with gRPC Unauthenticated."""

from __future__ import annotations

import adbc_driver_flightsql
import adbc_driver_manager
import pyarrow.flight as flight
import pytest

import make_fixtures
from util import AUTH_TOKEN, AUTH_USERS, GRPC_UNAUTHENTICATED, assert_adbc_error, assert_same_rows, command_statement_query

NS = make_fixtures.NAMESPACE
AUTH_HEADER = adbc_driver_flightsql.DatabaseOptions.AUTHORIZATION_HEADER.value


def query_snapshots(conn):
    cur = conn.cursor()
    try:
        cur.execute(f"SELECT * FROM {NS}.snapshots")
        return cur.fetch_arrow_table()
    finally:
        cur.close()


def expect_unauthenticated(adbc_connect, server, **db_kwargs) -> str:
    """Connecting (Handshake) or the first query must fail as UNAUTHENTICATED."""
    with pytest.raises(adbc_driver_manager.Error) as ei:
        conn = adbc_connect(server, **db_kwargs)
        query_snapshots(conn)
    return assert_adbc_error(ei.value, "UNAUTHENTICATED", GRPC_UNAUTHENTICATED)


@pytest.mark.parametrize("user", sorted(AUTH_USERS))
def test_password_login(auth_server, adbc_connect, pyi_catalog, user):
    conn = adbc_connect(auth_server, username=user, password=AUTH_USERS[user])
    got = query_snapshots(conn)
    want = pyi_catalog.load_table(f"{NS}.snapshots").scan().to_arrow()
    assert_same_rows(got, want, ["id"], f"as {user}")


def test_static_token(auth_server, adbc_connect):
    conn = adbc_connect(auth_server, **{AUTH_HEADER: f"Bearer {AUTH_TOKEN}"})
    assert query_snapshots(conn).num_rows == 300


@pytest.mark.parametrize(
    "db_kwargs",
    [
        {"username": "alice", "password": "wrong-password"},
        {"username": "alice", "password": AUTH_USERS["alice"] + "x"},
        {"username": "mallory", "password": AUTH_USERS["alice"]},
        {"username": "alice", "password": ""},
        {AUTH_HEADER: "Bearer not-the-token"},
        {AUTH_HEADER: f"Bearer {AUTH_TOKEN[:-1]}"},
        {},
    ],
    ids=["wrong_password", "password_suffix", "unknown_user", "empty_password", "wrong_token", "truncated_token", "none"],
)
def test_refused(auth_server, adbc_connect, db_kwargs):
    expect_unauthenticated(adbc_connect, auth_server, **db_kwargs)
    # The server still serves a good client afterwards.
    good = adbc_connect(auth_server, username="alice", password=AUTH_USERS["alice"])
    assert query_snapshots(good).num_rows == 300


def test_comment_lines_are_not_users(auth_server, adbc_connect):
    expect_unauthenticated(adbc_connect, auth_server, username="# lakeflight users for the interop suite", password="password")


def test_raw_flight_basic_handshake(auth_server):
    """pyarrow.flight: Handshake with Basic credentials returns a bearer token
    that authorizes later calls; calls without it are Unauthenticated."""
    client = flight.FlightClient(auth_server.uri)
    try:
        descriptor = flight.FlightDescriptor.for_command(command_statement_query(f"SELECT id FROM {NS}.keyed"))
        with pytest.raises(flight.FlightUnauthenticatedError):
            client.get_flight_info(descriptor)
        with pytest.raises(flight.FlightUnauthenticatedError):
            client.authenticate_basic_token("alice", "nope")
        key, value = client.authenticate_basic_token("alice", AUTH_USERS["alice"])
        assert key.lower() == b"authorization" and value.startswith(b"Bearer "), (key, value)
        opts = flight.FlightCallOptions(headers=[(key, value)])
        info = client.get_flight_info(descriptor, opts)
        rows = sum(client.do_get(ep.ticket, opts).read_all().num_rows for ep in info.endpoints)
        assert rows == 50
        static = flight.FlightCallOptions(headers=[(b"authorization", f"Bearer {AUTH_TOKEN}".encode())])
        assert client.get_flight_info(descriptor, static).schema.names == ["id"]
    finally:
        client.close()
