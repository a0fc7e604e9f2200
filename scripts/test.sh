#!/usr/bin/env bash
# Runs the whole lakeflight test suite on a fresh machine:
#   1. installs what the tests need (scripts/setup-test-env.sh: Python
#      packages into .venv, the JDBC driver through Maven, the Node client);
#   2. go vet and the Go tests (checked allocators, goleak), with the race
#      detector on the packages that run goroutines;
#   3. the interop suite: real clients (ADBC Python, pyarrow.flight, JDBC,
#      Node) against lakeflight servers on loopback, on tables written by
#      PyIceberg and on the demo warehouse.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"

step() { printf '\n==> %s\n' "$*"; }

step "setting up test dependencies"
scripts/setup-test-env.sh
clients/rest/setup.sh >/dev/null

step "go vet"
go vet ./...

step "building bin/lakeflight"
go build -o bin/lakeflight ./cmd/lakeflight

step "go test"
LAKEFLIGHT_REQUIRE_S3=1 go test -count=1 ./...
go test -race -count=1 ./server/ ./executor/

step "interop suite (pytest)"
LAKEFLIGHT_BIN="$REPO/bin/lakeflight" .venv/bin/python -m pytest clients/python/tests -q -p no:cacheprovider
