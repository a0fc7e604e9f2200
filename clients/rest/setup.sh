#!/usr/bin/env bash
# Build the Iceberg REST catalog reference server (see pom.xml) into
# clients/rest/target/lib/ so that it runs as
#
#   CATALOG_WAREHOUSE=file:///abs/dir CATALOG_REST_PORT=PORT \
#     java -cp 'clients/rest/target/lib/*' org.apache.iceberg.rest.RESTCatalogServer
#
# Idempotent: a stamp holds the sha256 of pom.xml; while it matches and the
# server's jar is in target/lib, nothing is done (well under a second).
# FORCE=1 rebuilds. Needs java (17+) and mvn on PATH (scripts/setup-test-env.sh
# installs both). Prints the classpath glob on success.
set -euo pipefail

DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
LIB="$DIR/target/lib"
STAMP="$DIR/target/.lakeflight-rest-fixture.sha256"
FORCE="${FORCE:-0}"

log() { printf '[clients/rest/setup] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

command -v java >/dev/null 2>&1 || die "java is not on PATH (install a JDK 17+, e.g. apt-get install openjdk-17-jdk-headless, or run scripts/setup-test-env.sh)"
command -v mvn >/dev/null 2>&1 || die "mvn is not on PATH (apt-get install maven, or run scripts/setup-test-env.sh)"

want="$(sha256sum "$DIR/pom.xml" | cut -d' ' -f1)"
have_jars() {
  compgen -G "$LIB/iceberg-open-api-*-test-fixtures.jar" >/dev/null &&
    compgen -G "$LIB/iceberg-core-*-tests.jar" >/dev/null
}

if [[ "$FORCE" != 1 && -f "$STAMP" && "$(cat "$STAMP")" == "$want" ]] && have_jars; then
  log "up to date: $LIB"
  echo "$LIB/*"
  exit 0
fi

log "mvn package in $DIR (copies the server and its dependencies to target/lib)"
rm -rf "$LIB" "$STAMP"  # no stale jars of an older pom on the class path
(cd "$DIR" && mvn -q -B -Dstyle.color=never package 1>&2) || die "mvn package failed in $DIR"
have_jars || die "mvn package did not put the REST fixture jars in $LIB"

# Smoke check: the server and the classes it loads first resolve on this path.
javap -cp "$LIB/*" org.apache.iceberg.rest.RESTCatalogServer org.apache.iceberg.rest.RESTCatalogServlet \
  org.apache.iceberg.jdbc.JdbcCatalog org.eclipse.jetty.servlet.ServletContextHandler \
  org.apache.hadoop.conf.Configuration org.sqlite.JDBC >/dev/null ||
  die "the REST fixture classes do not resolve on $LIB/*"

mkdir -p "$(dirname "$STAMP")"
echo "$want" > "$STAMP"
log "built $LIB ($(ls "$LIB" | wc -l) jars)"
echo "$LIB/*"
