#!/usr/bin/env bash
# Set up everything the client interop suite (clients/) needs:
#   1. $REPO/.venv with the pinned clients/python/requirements.txt (with
#      tpchgen-cli, the TPC-H generator the differential corpus uses)
#   2. clients/java: the JDBC checker (target/jdbc-check.jar + target/lib/)
#   3. clients/node: node_modules from package-lock.json (npm ci)
#   4. PostgreSQL server binaries (initdb, pg_ctl; Debian's `postgresql`) for
#      the SQL-catalog tests, which start a throwaway cluster on 127.0.0.1;
#      as root also the system user lakeflight-pg it runs as
#   5. the openssl CLI (the TLS tests make a self-signed certificate)
#   6. versitygw, an S3-compatible server, built from the Go module proxy
#      into .tools/bin (the object-storage tests serve tables from it)
#
# Idempotent and safe to rerun: each step records a stamp (a hash of its
# inputs) and is skipped while the stamp matches and its outputs exist.
# FORCE=1 redoes every step.
#
# Then run the suite from the repo root:
#   .venv/bin/python -m pytest clients/python/tests -q
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$REPO/.venv"
FORCE="${FORCE:-0}"

log() { printf '[setup-test-env] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

hash_files() { cat "$@" | sha256sum | cut -d' ' -f1; }

# stamp_ok FILE HASH: true when FILE holds HASH (and FORCE is not set).
stamp_ok() { [[ "$FORCE" != 1 && -f "$1" && "$(cat "$1")" == "$2" ]]; }

need() {
  local tool="$1" pkg="$2"
  if command -v "$tool" >/dev/null 2>&1; then return 0; fi
  if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null 2>&1; then
    log "$tool not found: apt-get install $pkg"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$pkg" >/dev/null
  fi
  command -v "$tool" >/dev/null 2>&1 || die "$tool is required (package $pkg)"
}

# ------------------------------------------------------------------ python
setup_python() {
  local req="$REPO/clients/python/requirements.txt"
  local py=""
  for cand in python3.11 python3.12 python3.13 python3; do
    if command -v "$cand" >/dev/null 2>&1 &&
       "$cand" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)' 2>/dev/null; then
      py="$cand"; break
    fi
  done
  [[ -n "$py" ]] || die "python >= 3.10 is required"

  local want; want="$(hash_files "$req")"
  local stamp="$VENV/.lakeflight-requirements.sha256"
  if [[ -x "$VENV/bin/python" ]] && stamp_ok "$stamp" "$want"; then
    log "python: $VENV up to date"
    return
  fi
  if [[ ! -x "$VENV/bin/python" ]] || ! "$VENV/bin/python" -c 'import sys' 2>/dev/null; then
    log "python: creating $VENV with $py"
    rm -rf "$VENV"
    "$py" -m venv "$VENV"
  fi
  log "python: installing $req"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check -r "$req"
  "$VENV/bin/python" -c 'import pyiceberg, pyarrow.flight, adbc_driver_flightsql.dbapi, duckdb, psycopg2, pytest' \
    || die "python: installed packages do not import"
  "$VENV/bin/tpchgen-cli" --version >/dev/null \
    || die "python: tpchgen-cli (TPC-H generator for bench/tpch/make_tpch.py) does not run"
  echo "$want" > "$stamp"
}

# ------------------------------------------------------------------ java
setup_java() {
  need java openjdk-17-jdk-headless
  need mvn maven
  local dir="$REPO/clients/java"
  local want
  want="$(cd "$dir" && hash_files pom.xml $(find src -type f | LC_ALL=C sort))"
  local stamp="$dir/target/.lakeflight-build.sha256"
  if [[ -f "$dir/target/jdbc-check.jar" ]] && compgen -G "$dir/target/lib/flight-sql-jdbc-driver-*.jar" >/dev/null &&
     stamp_ok "$stamp" "$want"; then
    log "java: $dir/target/jdbc-check.jar up to date"
    return
  fi
  log "java: mvn package in $dir"
  (cd "$dir" && mvn -q -B package)
  [[ -f "$dir/target/jdbc-check.jar" ]] || die "java: target/jdbc-check.jar was not built"
  echo "$want" > "$stamp"
}

# ------------------------------------------------------------------ node
setup_node() {
  need node nodejs
  need npm npm
  local dir="$REPO/clients/node"
  local want; want="$(hash_files "$dir/package.json" "$dir/package-lock.json")"
  local stamp="$dir/node_modules/.lakeflight-lock.sha256"
  if [[ -d "$dir/node_modules/@firetiger-oss/flight-sql-client" ]] && stamp_ok "$stamp" "$want"; then
    log "node: $dir/node_modules up to date"
    return
  fi
  log "node: npm ci in $dir"
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  echo "$want" > "$stamp"
}

# ------------------------------------------------------------------ postgresql
# The directory with initdb, pg_ctl and postgres: PATH first, then Debian's
# /usr/lib/postgresql/<version>/bin (newest version). Same search as
# clients/python/tests/pgcluster.py.
pg_bindir() {
  local d
  if command -v initdb >/dev/null 2>&1; then
    d="$(dirname "$(readlink -f "$(command -v initdb)")")"
    if [[ -x "$d/pg_ctl" && -x "$d/postgres" ]]; then echo "$d"; return 0; fi
  fi
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5,5 -rn); do
    if [[ -x "$d/initdb" && -x "$d/pg_ctl" && -x "$d/postgres" ]]; then echo "$d"; return 0; fi
  done
  return 1
}

setup_postgres() {
  if ! pg_bindir >/dev/null; then
    if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null 2>&1; then
      log "postgresql: initdb/pg_ctl not found: apt-get install postgresql"
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    fi
  fi
  local bindir
  bindir="$(pg_bindir)" || die "postgresql: initdb, pg_ctl and postgres are required (Debian package postgresql)"
  log "postgresql: $("$bindir/postgres" --version) in $bindir"
  # PostgreSQL refuses to run as root: the tests run it as this user.
  if [[ "$(id -u)" == 0 ]] && ! id lakeflight-pg >/dev/null 2>&1; then
    log "postgresql: creating system user lakeflight-pg"
    useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin lakeflight-pg \
      || die "postgresql: useradd lakeflight-pg failed"
  fi
}

# --------------------------------------------------------------- versitygw
VERSITYGW_VERSION=v1.8.0
setup_versitygw() {
  local bin="$REPO/.tools/bin/versitygw"
  local stamp="$REPO/.tools/versitygw.version"
  if [[ -x "$bin" ]] && stamp_ok "$stamp" "$VERSITYGW_VERSION"; then
    log "versitygw: $VERSITYGW_VERSION up to date"
    return
  fi
  command -v go >/dev/null 2>&1 || die "versitygw: go is required to build it"
  log "versitygw: go install github.com/versity/versitygw/cmd/versitygw@$VERSITYGW_VERSION"
  mkdir -p "$REPO/.tools/bin"
  GOBIN="$REPO/.tools/bin" go install "github.com/versity/versitygw/cmd/versitygw@$VERSITYGW_VERSION" \
    || die "versitygw: go install failed"
  echo "$VERSITYGW_VERSION" >"$stamp"
}

start=$SECONDS
setup_python
setup_java
setup_node
setup_postgres
setup_versitygw
need openssl openssl
command -v go >/dev/null 2>&1 || log "warning: no go on PATH: the suite builds cmd/lakeflight and clients/go/adbccheck with it"
log "done in $((SECONDS - start))s"
