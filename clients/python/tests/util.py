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


# ------------------------------------------------------------------ Go ADBC (clients/go/adbccheck)
def go_type_name(t: pa.DataType) -> str:
    """arrow-go's DataType.String() for the types the fixtures use, with
    large_* spelled like the plain type (see norm_go_type)."""
    if pa.types.is_decimal(t):
        return f"decimal({t.precision}, {t.scale})"
    if pa.types.is_timestamp(t):
        return f"timestamp[{t.unit}, tz={t.tz}]" if t.tz else f"timestamp[{t.unit}]"
    if pa.types.is_time(t):
        return f"{'time32' if pa.types.is_time32(t) else 'time64'}[{t.unit}]"
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return "utf8"
    if pa.types.is_binary(t) or pa.types.is_large_binary(t):
        return "binary"
    if pa.types.is_fixed_size_binary(t):
        return f"fixed_size_binary[{t.byte_width}]"
    names = {pa.bool_(): "bool", pa.float32(): "float32", pa.float64(): "float64", pa.date32(): "date32"}
    if t in names:
        return names[t]
    if pa.types.is_integer(t):
        return str(t)  # int8..int64, uint8..uint64: same spelling
    return str(t)


def norm_go_type(name: str) -> str:
    return {"large_utf8": "utf8", "large_binary": "binary"}.get(name, name)


def _fraction(unit: str, micro_or_nano: int) -> str:
    return {"s": "", "ms": f".{micro_or_nano // 1000:03d}", "us": f".{micro_or_nano:06d}", "ns": f".{micro_or_nano * 1000:09d}"}[unit]


def render_go(v: Any, t: pa.DataType) -> Any:
    """A Python value rendered the way adbccheck prints it (its package doc)."""
    if v is None:
        return None
    if pa.types.is_decimal(t):
        ctx = decimal.Context(prec=80)  # decimal(38, s) exceeds the default 28 digits
        return f"{v.quantize(decimal.Decimal(1).scaleb(-t.scale, ctx), context=ctx):f}"
    if pa.types.is_timestamp(t):
        if v.tzinfo is not None:
            v = v.astimezone(dt.timezone.utc).replace(tzinfo=None)
        s = v.strftime("%Y-%m-%dT%H:%M:%S") + _fraction(t.unit, v.microsecond)
        return s + "Z" if t.tz else s
    if pa.types.is_time(t):
        return v.strftime("%H:%M:%S") + _fraction(t.unit, v.microsecond)
    if pa.types.is_date(t):
        return v.isoformat()
    if isinstance(v, uuid.UUID):
        return v.bytes.hex()
    if isinstance(v, (bytes, bytearray)):
        return bytes(v).hex()
    if isinstance(v, float) and v != v:
        return "NaN"
    if isinstance(v, float) and v in (float("inf"), float("-inf")):
        return "+Inf" if v > 0 else "-Inf"
    return v


def render_table_go(table: pa.Table) -> tuple[list[tuple[str, str]], list[dict]]:
    """([(column, arrow-go type)], rows rendered like adbccheck) of a table."""
    cols = [(f.name, go_type_name(f.type)) for f in table.schema]
    types = {f.name: f.type for f in table.schema}
    rows = [{k: render_go(v, types[k]) for k, v in row.items()} for row in table.to_pylist()]
    return cols, rows


def _as_float32(x: Any) -> Any:
    import struct

    if isinstance(x, (int, float)) and not isinstance(x, bool):
        return struct.unpack("<f", struct.pack("<f", float(x)))[0]
    return x


def assert_same_go_rows(
    columns: list[dict], rows: list[dict], expected: pa.Table, keys: Sequence[str], what: str = ""
) -> None:
    """adbccheck's header and rows equal PyIceberg's table (order-insensitive,
    sorted by keys): same column names in order, same types (large_* as plain),
    same rendered values (float32 compared at float32 precision)."""
    label = f"{what}: " if what else ""
    exp_cols, exp_rows = render_table_go(expected)
    got_cols = [(c["name"], norm_go_type(c["type"])) for c in columns]
    assert got_cols == exp_cols, f"{label}columns differ:\n  actual   {got_cols}\n  expected {exp_cols}"
    f32 = [c["name"] for c in columns if c["type"] == "float32"]
    if f32:
        rows = [{k: (_as_float32(v) if k in f32 else v) for k, v in r.items()} for r in rows]
        exp_rows = [{k: (_as_float32(v) if k in f32 else v) for k, v in r.items()} for r in exp_rows]

    def key(r):
        return tuple((r[k] is None, r[k] if r[k] is not None else 0) for k in keys)

    a, e = sorted(rows, key=key), sorted(exp_rows, key=key)
    if a == e:
        return
    msg = [f"{label}{len(a)} rows, expected {len(e)}"]
    e_by = {tuple(r[k] for k in keys): r for r in e}
    a_by = {tuple(r[k] for k in keys): r for r in a}
    missing = sorted(set(e_by) - set(a_by), key=repr)[:5]
    extra = sorted(set(a_by) - set(e_by), key=repr)[:5]
    if missing:
        msg.append(f"  missing keys (first 5): {missing}")
    if extra:
        msg.append(f"  unexpected keys (first 5): {extra}")
    shown = 0
    for k, r in a_by.items():
        if k in e_by and e_by[k] != r:
            msg.append(f"  key {k}: (actual, expected) " + repr({c: (r[c], e_by[k].get(c)) for c in r if r[c] != e_by[k].get(c)}))
            shown += 1
            if shown >= 5:
                break
    raise AssertionError("\n".join(msg))


class AdbcCheckResult:
    """One run of adbccheck: exit code, header columns, rows, the final count."""

    def __init__(self, argv: list[str], rc: int, stdout: str, stderr: str):
        import json

        self.argv, self.rc, self.stdout, self.stderr = argv, rc, stdout, stderr
        # Line 1 the header, then one line per row, then (after a complete
        # run only) the footer {"rows": N}.
        lines = [json.loads(l) for l in stdout.splitlines() if l.strip()]
        has_header = bool(lines) and list(lines[0]) == ["columns"]
        self.columns: list[dict] = lines[0]["columns"] if has_header else []
        body = lines[1:] if has_header else lines
        self.count: int | None = None
        if rc == 0 and body and list(body[-1]) == ["rows"]:
            self.count = body[-1]["rows"]
            body = body[:-1]
        self.rows: list[dict] = body

    @property
    def error(self) -> str:
        """The "error: ..." line adbccheck wrote to stderr, or ""."""
        for line in self.stderr.splitlines():
            if line.startswith("error: "):
                return line[len("error: "):]
        return ""

    def describe(self) -> str:
        return f"adbccheck exit {self.rc}\nargv: {self.argv}\nstdout (head):\n{self.stdout[:2000]}\nstderr (tail):\n{self.stderr[-3000:]}"

    def ok(self) -> "AdbcCheckResult":
        assert self.rc == 0, self.describe()
        assert self.count == len(self.rows), f"footer says {self.count} rows, printed {len(self.rows)}\n{self.describe()}"
        return self


def run_adbccheck(binary: str, uri: str, query: str, params: Sequence[str] = (), extra: Sequence[str] = (), timeout: float = 180) -> AdbcCheckResult:
    """Run clients/go/adbccheck; params are TYPE:VALUE strings."""
    import subprocess

    argv = [binary, "-uri", uri, "-query", query]
    for p in params:
        argv += ["-param", p]
    argv += list(extra)
    p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    return AdbcCheckResult(argv, p.returncode, p.stdout, p.stderr)
