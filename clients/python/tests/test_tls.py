"""TLS: lakeflight with --tls-cert/--tls-key (a self-signed certificate for
127.0.0.1 and localhost made at test time, conftest tls_cert) serving the
PyIceberg fixtures. Clients that trust the certificate get the same rows as
PyIceberg's scan; clients that do not trust it, and plaintext clients, are
refused and get no data."""

from __future__ import annotations

import shutil
import subprocess
import time

import pyarrow.flight as flight
import pytest
from pyiceberg.expressions import AlwaysTrue, EqualTo, GreaterThan

import adbc_driver_flightsql as flightsql_opts
import make_fixtures
from util import REPO, assert_same_go_rows, assert_same_rows, command_statement_query, run_adbccheck

NS = make_fixtures.NAMESPACE
TLS_ROOT_CERTS = flightsql_opts.DatabaseOptions.TLS_ROOT_CERTS.value
TLS_SKIP_VERIFY = flightsql_opts.DatabaseOptions.TLS_SKIP_VERIFY.value
# Fail fast: a refused TLS handshake must not wait for the default timeouts.
FAST = {
    flightsql_opts.DatabaseOptions.TIMEOUT_QUERY.value: "20",
    flightsql_opts.DatabaseOptions.TIMEOUT_FETCH.value: "20",
}


def reference(cat, table, row_filter=AlwaysTrue(), columns=("*",)):
    out = cat.load_table(f"{NS}.{table}").scan(row_filter=row_filter, selected_fields=columns).to_arrow()
    return out.select(list(columns)) if columns != ("*",) else out


def query(conn, sql: str, params=None):
    cur = conn.cursor()
    try:
        cur.execute(sql, params)
        return cur.fetch_arrow_table()
    finally:
        cur.close()


def connect(uri: str, **db_kwargs):
    import adbc_driver_flightsql.dbapi as dbapi

    return dbapi.connect(uri, db_kwargs={**FAST, **db_kwargs})


def test_tls_server_announces_grpc_tls(tls_server):
    assert tls_server.scheme == "grpc+tls", tls_server.logs()
    line = next(l for l in tls_server.stdout_lines if "listening on" in l)
    assert f"listening on grpc+tls://{tls_server.hostport}" in line, line
    # the connect hints follow the listening line
    deadline = time.monotonic() + 10
    while not any("useEncryption=" in l for l in tls_server.stdout_lines) and time.monotonic() < deadline:
        time.sleep(0.05)
    hints = "\n".join(tls_server.stdout_lines)
    assert "useEncryption=true" in hints and "useEncryption=false" not in hints, hints


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_adbc_tls_trusting_the_certificate(tls_server, tls_cert, pyi_catalog, host):
    """Verified TLS, by IP SAN and by DNS SAN: rows equal PyIceberg's scan."""
    conn = connect(f"grpc+tls://{host}:{tls_server.port}", **{TLS_ROOT_CERTS: tls_cert.pem})
    try:
        got = query(conn, f"SELECT * FROM {NS}.keyed")
        assert_same_rows(got, reference(pyi_catalog, "keyed"), ["tenant", "id"], f"keyed over TLS ({host})")
        got = query(conn, f"SELECT id, label FROM {NS}.snapshots WHERE id > ?", (250,))
        assert_same_rows(got, reference(pyi_catalog, "snapshots", GreaterThan("id", 250), ("id", "label")), ["id"],
                         "prepared over TLS")
        # a multi-endpoint scan: every DoGet goes over TLS too
        got = query(conn, f"SELECT event_id, category FROM {NS}.events")
        assert got.num_rows == make_fixtures.EXPECTED["row_counts"]["events"]
    finally:
        conn.close()


def test_adbc_tls_skip_verify(tls_server, pyi_catalog):
    conn = connect(tls_server.uri, **{TLS_SKIP_VERIFY: "true"})
    try:
        got = query(conn, f"SELECT * FROM {NS}.all_types WHERE id < 20")
        assert got.num_rows == 20
    finally:
        conn.close()


def _expect_refused(uri: str, what: str, **db_kwargs) -> str:
    try:
        conn = connect(uri, **db_kwargs)
    except Exception as e:  # refused at connect: fine
        return str(e)
    try:
        got = query(conn, f"SELECT * FROM {NS}.keyed")
    except Exception as e:
        return str(e)
    finally:
        try:
            conn.close()
        except Exception:
            pass
    pytest.fail(f"{what}: the query succeeded ({got.num_rows} rows); it must be refused")


def test_adbc_untrusted_certificate_is_refused(tls_server):
    """Without the certificate in its roots the client must not talk to it."""
    msg = _expect_refused(tls_server.uri, "TLS client not trusting the self-signed certificate")
    assert "certificate" in msg.lower() or "x509" in msg.lower(), msg


def test_adbc_plaintext_client_is_refused(tls_server):
    msg = _expect_refused(f"grpc://{tls_server.hostport}", "plaintext ADBC client against a TLS server")
    assert "unavailable" in msg.lower(), msg  # gRPC 14: the server closed the non-TLS connection


def test_pyarrow_flight_plaintext_is_refused_tls_works(tls_server, tls_cert):
    """Raw Flight: GetFlightInfo over plaintext fails; over TLS with the root
    certificate it returns endpoints."""
    desc = flight.FlightDescriptor.for_command(command_statement_query(f"SELECT id FROM {NS}.keyed"))
    opts = flight.FlightCallOptions(timeout=20)
    plain = flight.FlightClient(f"grpc://{tls_server.hostport}")
    try:
        with pytest.raises(flight.FlightError):
            plain.get_flight_info(desc, opts)
    finally:
        plain.close()
    secure = flight.FlightClient(f"grpc+tls://{tls_server.hostport}", tls_root_certs=tls_cert.pem.encode())
    try:
        info = secure.get_flight_info(desc, opts)
        assert info.endpoints, "no endpoints"
        rows = sum(secure.do_get(ep.ticket, opts).read_all().num_rows for ep in info.endpoints)
        assert rows == make_fixtures.EXPECTED["row_counts"]["keyed"]
    finally:
        secure.close()


def test_plaintext_server_still_plaintext(pyi_server):
    """The non-TLS servers of this suite keep announcing grpc:// (TLS is opt-in)."""
    assert pyi_server.scheme == "grpc", pyi_server.logs()


def test_go_adbc_over_tls(adbccheck_bin, tls_server, tls_cert, pyi_catalog):
    cols = ("tenant", "id", "name", "score")
    res = run_adbccheck(adbccheck_bin, tls_server.uri, f"SELECT tenant, id, name, score FROM {NS}.keyed WHERE tenant = ?",
                        ["string:t1"], extra=["-tls-root-certs", str(tls_cert.cert)]).ok()
    assert_same_go_rows(res.columns, res.rows, reference(pyi_catalog, "keyed", EqualTo("tenant", "t1"), cols), ["id"])
    # and without trusting the certificate: refused
    bad = run_adbccheck(adbccheck_bin, tls_server.uri, f"SELECT id FROM {NS}.keyed", extra=["-timeout", "30s"])
    assert bad.rc == 1 and not bad.rows, bad.describe()


# ------------------------------------------------------------------ JDBC
JAVA_DIR = REPO / "clients" / "java"
JAR = JAVA_DIR / "target" / "jdbc-check.jar"
JVM_FLAGS = ["--add-opens=java.base/java.nio=ALL-UNNAMED"]


def _jdbc(server, *args: str) -> tuple[int, str]:
    java = shutil.which("java")
    if java is None or not JAR.exists():
        pytest.fail("java or clients/java/target/jdbc-check.jar is missing: run scripts/setup-test-env.sh")
    argv = [java, *JVM_FLAGS, "-jar", str(JAR), "--host", server.host, "--port", str(server.port), *args]
    p = subprocess.run(argv, capture_output=True, text=True, timeout=180, cwd=str(JAVA_DIR))
    return p.returncode, f"exit {p.returncode}\nstdout:\n{p.stdout}\nstderr (tail):\n{p.stderr[-3000:]}"


@pytest.mark.parametrize(
    "tls_args",
    [pytest.param("root", id="tlsRootCerts"), pytest.param("noverify", id="disableCertificateVerification")],
)
def test_jdbc_over_tls(tls_server, tls_cert, tls_args):
    """The full JdbcCheck run (metadata, Statement, PreparedStatement, typed
    values, scans) with useEncryption=true."""
    extra = ["--tls-root-certs", str(tls_cert.cert)] if tls_args == "root" else ["--disable-cert-verification", "true"]
    rc, out = _jdbc(tls_server, "--encryption", "true", *extra)
    assert rc == 0, out
    assert "OK all" in out and "useEncryption=true" in out, out
    assert "rows=300 sum(id)=44850 label=b3-60" in out, out


def test_jdbc_plaintext_against_tls_fails(tls_server):
    rc, out = _jdbc(tls_server, "--encryption", "false")
    assert rc != 0 and "FAIL" in out and "UNAVAILABLE" in out, out
