"""Helpers shared by the interop tests: result comparison, protobuf encoding,
error assertions. No test logic lives here."""

from __future__ import annotations

import datetime as dt
import decimal
import re
import uuid
from typing import Any, Iterable, Sequence

import pyarrow as pa
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]

# Users and static token of the authenticated server (conftest auth_server).
# bob's password has colons: a users-file line splits at the first colon.
AUTH_USERS = {"alice": "wonderland-42", "bob": "b0b:with:colons"}
AUTH_TOKEN = "lakeflight-static-test-token-7f3a"

# gRPC status codes (the ADBC Flight SQL driver reports them as vendor_code).
GRPC_INVALID_ARGUMENT = 3
GRPC_NOT_FOUND = 5
GRPC_PERMISSION_DENIED = 7
GRPC_UNIMPLEMENTED = 12
GRPC_UNAUTHENTICATED = 16


# ------------------------------------------------------------------ values
def _norm_value(v: Any) -> Any:
    """Canonical Python value for comparison across Arrow type spellings
    (string/large_string, binary/large_binary, list/large_list, uuid
    extension/fixed_size_binary(16))."""
    if isinstance(v, uuid.UUID):
        return v.bytes
    if isinstance(v, dict):
        return {k: _norm_value(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_norm_value(x) for x in v]
    if isinstance(v, tuple):  # map entries come as (key, value)
        return tuple(_norm_value(x) for x in v)
    if isinstance(v, dt.datetime) and v.tzinfo is not None:
        return v.astimezone(dt.timezone.utc)
    return v


def rows_of(table: pa.Table) -> list[dict]:
    return [{k: _norm_value(v) for k, v in row.items()} for row in table.to_pylist()]


def _sort_key(row: dict, keys: Sequence[str]):
    return tuple((row[k] is None, row[k] if row[k] is not None else 0) for k in keys)


def sorted_rows(table: pa.Table, keys: Sequence[str]) -> list[dict]:
    return sorted(rows_of(table), key=lambda r: _sort_key(r, keys))


def assert_same_rows(actual: pa.Table, expected: pa.Table, keys: Sequence[str], what: str = "") -> None:
    """Order-insensitive equality of two tables (same column names in the same
    order, same rows after sorting by `keys`), with a readable diff."""
    label = f"{what}: " if what else ""
    assert actual.column_names == expected.column_names, (
        f"{label}columns differ:\n  actual   {actual.column_names}\n  expected {expected.column_names}"
    )
    a = sorted_rows(actual, keys)
    e = sorted_rows(expected, keys)
    if a == e:
        return
    msg = [f"{label}{len(a)} rows, expected {len(e)}"]
    a_keys = {tuple(r[k] for k in keys) for r in a}
    e_keys = {tuple(r[k] for k in keys) for r in e}
    missing = sorted(e_keys - a_keys, key=repr)[:5]
    extra = sorted(a_keys - e_keys, key=repr)[:5]
    if missing:
        msg.append(f"  missing keys (first 5): {missing}")
    if extra:
        msg.append(f"  unexpected keys (first 5): {extra}")
    shown = 0
    e_by_key = {tuple(r[k] for k in keys): r for r in e}
    for r in a:
        k = tuple(r[c] for c in keys)
        if k in e_by_key and e_by_key[k] != r:
            diffs = {c: (r[c], e_by_key[k][c]) for c in r if r[c] != e_by_key[k].get(c)}
            msg.append(f"  key {k}: (actual, expected) {diffs}")
            shown += 1
            if shown >= 5:
                break
    raise AssertionError("\n".join(msg))


# ------------------------------------------------------------------ protobuf
def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def pb_bytes_field(number: int, payload: bytes) -> bytes:
    """A length-delimited protobuf field (wire type 2)."""
    return _varint((number << 3) | 2) + _varint(len(payload)) + payload


def pb_any(type_url: str, value: bytes) -> bytes:
    """google.protobuf.Any {1: type_url, 2: value}."""
    return pb_bytes_field(1, type_url.encode()) + pb_bytes_field(2, value)


def command_statement_query(sql: str) -> bytes:
    """Any(arrow.flight.protocol.sql.CommandStatementQuery {1: query})."""
    return pb_any(
        "type.googleapis.com/arrow.flight.protocol.sql.CommandStatementQuery",
        pb_bytes_field(1, sql.encode()),
    )


def pb_decode_fields(buf: bytes) -> list[tuple[int, int, Any]]:
    """Decode one level of protobuf fields: [(number, wire_type, value)]."""
    out = []
    i = 0

    def varint() -> int:
        nonlocal i
        shift = n = 0
        while True:
            b = buf[i]
            i += 1
            n |= (b & 0x7F) << shift
            if not b & 0x80:
                return n
            shift += 7

    while i < len(buf):
        key = varint()
        num, wt = key >> 3, key & 7
        if wt == 0:
            out.append((num, wt, varint()))
        elif wt == 2:
            ln = varint()
            out.append((num, wt, buf[i : i + ln]))
            i += ln
        elif wt == 1:
            out.append((num, wt, buf[i : i + 8]))
            i += 8
        elif wt == 5:
            out.append((num, wt, buf[i : i + 4]))
            i += 4
        else:
            raise ValueError(f"unsupported wire type {wt}")
    return out


# ------------------------------------------------------------------ errors
def adbc_error_info(exc: BaseException) -> tuple[str, int | None, str]:
    """(ADBC status name, gRPC code from vendor_code, message) of an ADBC error."""
    status = getattr(exc, "status_code", None)
    name = getattr(status, "name", str(status))
    return name, getattr(exc, "vendor_code", None), str(exc)


def assert_adbc_error(exc: BaseException, status: str, grpc_code: int, mentions: Iterable[str] = ()) -> str:
    name, vendor, msg = adbc_error_info(exc)
    assert name == status, f"expected ADBC status {status}, got {name} (gRPC code {vendor}): {msg}"
    assert vendor == grpc_code, f"expected gRPC code {grpc_code}, got {vendor}: {msg}"
    for m in mentions:
        assert m.lower() in msg.lower(), f"error message does not mention {m!r}: {msg}"
    return msg


def positions_in(msg: str) -> list[int]:
    """Numbers that follow a position-like word in an error message."""
    pat = re.compile(r"(?:position|pos|offset|character|char|column|col|cursor(?:pos)?)\D{0,3}?(\d+)", re.I)
    return [int(m) for m in pat.findall(msg)]


def arrow_type_name(t: pa.DataType) -> str:
    if isinstance(t, pa.ExtensionType):
        return f"extension<{t.extension_name}>"
    return str(t)


def dec(s: str) -> decimal.Decimal:
    return decimal.Decimal(s)
