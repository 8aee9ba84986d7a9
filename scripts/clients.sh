#!/usr/bin/env bash
# imagegraph against the GraphQL clients people use (clients/, npm packages pinned in
# clients/package-lock.json), over the real binary in zero-setup mode.
#
#   scripts/clients.sh test           the schema check, then start the service (its own
#                                     DATA_DIR in a temporary directory, a free port, the
#                                     offline AI provider) and run the GraphQL-over-HTTP
#                                     audit and the client suite against it; prints a
#                                     summary and fails if any of the three fails
#   scripts/clients.sh schema-check   schema.graphql against the last released schema
#                                     (graphql-js findBreakingChanges; no service)
#   scripts/clients.sh audit          only graphql-http's serverAudits, against a service
#                                     started here
#
# The service is built with `cargo build --locked --bin imagegraph` unless IMAGEGRAPH_BIN
# names a binary. Its log and the audit's results land in clients/test-results/.
set -euo pipefail
# IMAGEGRAPH_BIN, if set, is taken relative to where the script was started.
if [ -n "${IMAGEGRAPH_BIN:-}" ]; then
  IMAGEGRAPH_BIN=$(realpath -m "$IMAGEGRAPH_BIN")
fi
cd "$(dirname "$0")/.."
ROOT=$PWD
RESULTS=$ROOT/clients/test-results

usage() {
  echo "usage: scripts/clients.sh test|schema-check|audit" >&2
  exit 2
}

install() {
  if ! command -v npm >/dev/null 2>&1; then
    echo "clients: npm is missing: install Node.js 20.9 or later (Debian: apt-get install nodejs npm)" >&2
    exit 1
  fi
  # npm ci wipes node_modules and installs exactly the lockfile: only when needed.
  if [ ! -d clients/node_modules ] ||
    [ clients/package-lock.json -nt clients/node_modules/.package-lock.json ]; then
    echo "clients: installing npm packages (npm ci)" >&2
    (cd clients && npm ci --no-audit --no-fund)
  fi
}

binary() {
  if [ -z "${IMAGEGRAPH_BIN:-}" ]; then
    echo "clients: building the service (cargo build --locked --bin imagegraph)" >&2
    cargo build --locked --bin imagegraph
    IMAGEGRAPH_BIN=$ROOT/target/debug/imagegraph
  elif [ ! -x "$IMAGEGRAPH_BIN" ]; then
    echo "clients: IMAGEGRAPH_BIN=$IMAGEGRAPH_BIN is not an executable" >&2
    exit 1
  fi
}

SERVICE_PID=""
DATA_DIR=""

stop_service() {
  if [ -n "$SERVICE_PID" ] && kill -0 "$SERVICE_PID" 2>/dev/null; then
    # SIGTERM: the service stops its private PostgreSQL cluster before it exits.
    kill -TERM "$SERVICE_PID" 2>/dev/null || true
    for _ in $(seq 300); do
      kill -0 "$SERVICE_PID" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$SERVICE_PID" 2>/dev/null || true
    wait "$SERVICE_PID" 2>/dev/null || true
  fi
  SERVICE_PID=""
  if [ -n "$DATA_DIR" ]; then
    rm -rf "$DATA_DIR"
    DATA_DIR=""
  fi
}

# Starts the binary as a first-time user would (no configuration but where to put its
# data and where to listen) and exports IMAGEGRAPH_URL and IMAGEGRAPH_TOKEN.
start_service() {
  mkdir -p "$RESULTS"
  # As root the private cluster runs as the `postgres` user, which must enter DATA_DIR.
  DATA_DIR=$(mktemp -d "${TMPDIR:-/tmp}/imagegraph-clients-XXXXXX")
  chmod 755 "$DATA_DIR"
  local port
  port=$(node -e 'const s = require("net").createServer();
    s.listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });')
  local origin=http://127.0.0.1:$port
  trap stop_service EXIT
  trap 'stop_service; exit 130' INT
  trap 'stop_service; exit 143' TERM
  (
    # Zero-setup: no database, storage or AI provider from the caller's environment.
    unset DATABASE_URL STORAGE_URL
    for name in $(compgen -e | grep '^OPENAI_' || true); do unset "$name"; done
    # The suite uploads about 30 images in a few seconds as one user; the rate limits are
    # not what it tests.
    export RATE_LIMIT_UPLOADS_BURST=500 RATE_LIMIT_COSTLY_BURST=500
    export RATE_LIMIT_EDITS_BURST=500 RATE_LIMIT_COMMENTS_BURST=500
    export DATA_DIR LISTEN_ADDR=127.0.0.1:$port PUBLIC_URL=$origin RUST_LOG=${RUST_LOG:-info}
    exec "$IMAGEGRAPH_BIN" serve
  ) >"$RESULTS/service.log" 2>&1 &
  SERVICE_PID=$!
  local deadline=$((SECONDS + 180))
  until curl -fsS -o /dev/null "$origin/readyz" 2>/dev/null; do
    if ! kill -0 "$SERVICE_PID" 2>/dev/null; then
      echo "clients: imagegraph exited before it was ready; see $RESULTS/service.log" >&2
      tail -20 "$RESULTS/service.log" >&2
      exit 1
    fi
    if [ $SECONDS -gt $deadline ]; then
      echo "clients: imagegraph was not ready within 180 s; see $RESULTS/service.log" >&2
      exit 1
    fi
    sleep 0.25
  done
  IMAGEGRAPH_URL=$origin
  IMAGEGRAPH_TOKEN=$(cat "$DATA_DIR/admin-token")
  export IMAGEGRAPH_URL IMAGEGRAPH_TOKEN
  echo "clients: imagegraph ready at $origin (log: $RESULTS/service.log)" >&2
}

schema_check() {
  (cd clients && node schema-check.mjs)
}

audit() {
  (cd clients && node audit.mjs) | tee "$RESULTS/audit.txt"
}

suite() {
  (cd clients && node --test --test-reporter=spec --test-concurrency=1 tests/*.test.mjs) |
    tee "$RESULTS/suite.txt"
}

run_all() {
  install
  mkdir -p "$RESULTS"
  (cd clients && npm run --silent format:check)
  local schema_status=0 audit_status=0 suite_status=0
  schema_check | tee "$RESULTS/schema-check.txt" || schema_status=$?
  binary
  start_service
  audit || audit_status=$?
  suite || suite_status=$?
  stop_service

  local pass fail
  pass=$(sed -n 's/^ℹ pass \([0-9]*\)$/\1/p' "$RESULTS/suite.txt" | tail -1)
  fail=$(sed -n 's/^ℹ fail \([0-9]*\)$/\1/p' "$RESULTS/suite.txt" | tail -1)
  echo
  echo "== clients summary"
  echo "schema check:  $([ $schema_status -eq 0 ] && echo ok || echo FAILED) ($(tail -1 "$RESULTS/schema-check.txt" 2>/dev/null || true))"
  echo "audit:         $([ $audit_status -eq 0 ] && echo ok || echo FAILED) ($(grep '^graphql-http audit:' "$RESULTS/audit.txt" || echo 'did not run'))"
  echo "client suite:  $([ $suite_status -eq 0 ] && echo ok || echo FAILED) (${pass:-0} passed, ${fail:-?} failed)"
  [ $schema_status -eq 0 ] && [ $audit_status -eq 0 ] && [ $suite_status -eq 0 ]
}

case "${1:-}" in
  test) run_all ;;
  schema-check)
    install
    schema_check
    ;;
  audit)
    install
    binary
    start_service
    audit
    ;;
  *) usage ;;
esac
