#!/usr/bin/env bash
# The README's test command: installs what the tests need, then runs every test.
# Tests start their own PostgreSQL cluster unless TEST_DATABASE_URL points at a server.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --tests
cargo test --workspace --locked "$@"
