"""Errors through ADBC: each must carry the right status (ADBC status and the
gRPC code the driver reports as vendor_code) and a message that names the
problem; the same connection must answer a normal query afterwards."""

from __future__ import annotations

import adbc_driver_manager
import pytest

import make_fixtures
from util import (
    GRPC_INVALID_ARGUMENT,
    GRPC_NOT_FOUND,
    GRPC_UNIMPLEMENTED,
    assert_adbc_error,
    positions_in,
)

NS = make_fixtures.NAMESPACE


def run_error(conn, sql: str, params=None) -> adbc_driver_manager.Error:
    cur = conn.cursor()
    try:
        with pytest.raises(adbc_driver_manager.Error) as ei:
            cur.execute(sql, params)
            cur.fetch_arrow_table()
        return ei.value
    finally:
        cur.close()


def assert_still_answers(conn) -> None:
    cur = conn.cursor()
    try:
        cur.execute(f"SELECT id FROM {NS}.snapshots WHERE id < 3")
        assert sorted(cur.fetch_arrow_table().column("id").to_pylist()) == [0, 1, 2]
    finally:
        cur.close()


@pytest.mark.parametrize(
    "sql,bad_token",
    [
        (f"SELECT id FROM {NS}.snapshots WHERX id = 1", "id"),
        ("SELEC id FROM pyi.snapshots", "SELEC"),
        (f"SELECT id, FROM {NS}.snapshots", "FROM"),
        (f"SELECT id FROM {NS}.snapshots WHERE id = = 1", "="),
    ],
    ids=["bad_keyword", "typo_select", "dangling_comma", "double_operator"],
)
def test_syntax_error(pyi_conn, sql, bad_token):
    err = run_error(pyi_conn, sql)
    msg = assert_adbc_error(err, "INVALID_ARGUMENT", GRPC_INVALID_ARGUMENT, ["syntax"])
    # The message must say where: a number after a position-like word, near
    # the offending token (0- or 1-based, start or end of the token).
    positions = positions_in(msg)
    assert positions, f"syntax error message gives no position: {msg}"
    if bad_token == "=":
        start = sql.index("= =") + 2
    elif bad_token == "id":
        start = sql.index("WHERX") + len("WHERX ")
    else:
        start = sql.index(bad_token)
    near = range(start - 1, start + len(bad_token) + 2)
    assert any(p in near for p in positions), (
        f"position(s) {positions} in message are not at {bad_token!r} (offset {start}) of {sql!r}: {msg}"
    )
    assert_still_answers(pyi_conn)


@pytest.mark.parametrize(
    "sql,name",
    [
        (f"SELECT * FROM {NS}.no_such_table", "no_such_table"),
        ("SELECT * FROM no_such_ns.snapshots", "no_such_ns"),
        (f"SELECT no_such_col FROM {NS}.snapshots", "no_such_col"),
        (f"SELECT id FROM {NS}.snapshots WHERE no_such_col2 > 1", "no_such_col2"),
    ],
    ids=["table", "namespace", "column", "column_in_where"],
)
def test_not_found(pyi_conn, sql, name):
    err = run_error(pyi_conn, sql)
    assert_adbc_error(err, "NOT_FOUND", GRPC_NOT_FOUND, [name])
    assert_still_answers(pyi_conn)


@pytest.mark.parametrize(
    "sql,construct",
    [
        (f"INSERT INTO {NS}.snapshots (id, batch, label) VALUES (1000, 9, 'x')", "INSERT"),
        (f"UPDATE {NS}.snapshots SET label = 'x' WHERE id = 1", "UPDATE"),
        (f"DELETE FROM {NS}.snapshots WHERE id = 1", "DELETE"),
        (f"CREATE TABLE {NS}.new_table (id bigint)", "CREATE"),
    ],
    ids=["insert", "update", "delete", "create_table"],
)
def test_unsupported(pyi_conn, sql, construct):
    err = run_error(pyi_conn, sql)
    assert_adbc_error(err, "NOT_IMPLEMENTED", GRPC_UNIMPLEMENTED, [construct])
    assert_still_answers(pyi_conn)


def test_errors_do_not_break_prepared_statements(pyi_conn):
    """A failed prepare must not poison the next parameterized query."""
    err = run_error(pyi_conn, f"SELECT id FROM {NS}.no_such_table WHERE id > ?", (1,))
    assert_adbc_error(err, "NOT_FOUND", GRPC_NOT_FOUND, ["no_such_table"])
    cur = pyi_conn.cursor()
    try:
        cur.execute(f"SELECT id FROM {NS}.snapshots WHERE id > ?", (296,))
        assert sorted(cur.fetch_arrow_table().column("id").to_pylist()) == [297, 298, 299]
    finally:
        cur.close()
