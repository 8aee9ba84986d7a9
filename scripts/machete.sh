#!/usr/bin/env bash
# Fails when a crate of the workspace declares a dependency it does not use.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v cargo-machete >/dev/null 2>&1; then
  echo "machete: installing cargo-machete" >&2
  cargo install --locked cargo-machete --version 0.9.2
fi
cargo machete
