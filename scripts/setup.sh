#!/usr/bin/env bash
# Installs what building, running and testing imagegraph needs beyond the Rust
# toolchain: cmake and nasm (libjpeg-turbo is built from source), PostgreSQL's server
# binaries (for the private cluster), the browser pages (web/dist, when npm is there)
# and, for the tests, the moto S3-protocol server in a project-local virtualenv.
# Idempotent; safe to run often.
set -euo pipefail
cd "$(dirname "$0")/.."

have_postgres() {
  command -v pg_config >/dev/null 2>&1 && [ -x "$(pg_config --bindir)/initdb" ] && return 0
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1
}

if ! have_postgres; then
  echo "setup: installing PostgreSQL server binaries" >&2
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq postgresql >/dev/null
fi

# The JPEG encoder (libjpeg-turbo) is built from source by cargo: it needs cmake and nasm;
# the allocator (jemalloc, src/malloc.rs) needs make, which cmake's builds use too.
if ! command -v cmake >/dev/null 2>&1 || ! command -v nasm >/dev/null 2>&1 || ! command -v make >/dev/null 2>&1; then
  echo "setup: installing cmake, nasm and make (to build libjpeg-turbo and jemalloc)" >&2
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq cmake nasm make >/dev/null
fi

# GraphiQL and the gallery app (web/dist), from the npm lockfile. Without npm the
# service still runs and its `/` page says how to build them.
if [ ! -f web/dist/index.html ]; then
  if command -v npm >/dev/null 2>&1; then
    # Not fatal: the API works without the pages, and `/` says how to build them.
    scripts/web.sh build || echo "setup: building GraphiQL and the gallery failed (see above); the API works without them" >&2
  else
    echo "setup: npm not found; GraphiQL and the gallery are not built (see scripts/web.sh)" >&2
  fi
fi

if [ "${1:-}" = "--tests" ] && [ ! -x .venv/bin/moto_server ]; then
  echo "setup: installing moto (S3-protocol server for the tests) into .venv" >&2
  python3 -m venv .venv
  .venv/bin/pip install -q --disable-pip-version-check 'moto[server]==5.2.1'
fi
