#!/usr/bin/env bash
# The browser side (web/): GraphiQL and the gallery SPA, built from npm packages pinned
# in web/package-lock.json into web/dist/, which the service serves (WEB_DIR).
#
#   scripts/web.sh build   npm ci (when node_modules is missing or older than the
#                          lockfile), then type-check and build web/dist/
#   scripts/web.sh test    build, install Debian's chromium if it is missing, build the
#                          service (cargo; skipped when IMAGEGRAPH_BIN names a binary),
#                          check the formatting (prettier), then run the browser tests
#                          (screenshots and the service's log land in web/test-results/)
set -euo pipefail
# IMAGEGRAPH_BIN, if set, is taken relative to where the script was started.
if [ -n "${IMAGEGRAPH_BIN:-}" ]; then
  IMAGEGRAPH_BIN=$(realpath -m "$IMAGEGRAPH_BIN")
  export IMAGEGRAPH_BIN
fi
cd "$(dirname "$0")/.."

usage() {
  echo "usage: scripts/web.sh build|test" >&2
  exit 2
}

need_npm() {
  if ! command -v npm >/dev/null 2>&1; then
    echo "web: npm is missing: install Node.js 20.19 or later (Debian: apt-get install nodejs npm)" >&2
    exit 1
  fi
}

build() {
  need_npm
  # npm ci wipes node_modules and installs exactly the lockfile: only when needed.
  if [ ! -d web/node_modules ] || [ web/package-lock.json -nt web/node_modules/.package-lock.json ]; then
    echo "web: installing npm packages (npm ci)" >&2
    (cd web && npm ci --no-audit --no-fund)
  fi
  (cd web && npm run build)
}

install_chromium() {
  [ -x "${CHROMIUM_PATH:-/usr/bin/chromium}" ] && return 0
  echo "web: installing chromium (Debian) for the browser tests" >&2
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq chromium >/dev/null
}

test_web() {
  build
  install_chromium
  # The tests start the real service; IMAGEGRAPH_BIN may point at another build.
  if [ -z "${IMAGEGRAPH_BIN:-}" ]; then
    echo "web: building the service (cargo build --locked --bin imagegraph)" >&2
    cargo build --locked --bin imagegraph
  elif [ ! -x "$IMAGEGRAPH_BIN" ]; then
    echo "web: IMAGEGRAPH_BIN=$IMAGEGRAPH_BIN is not an executable" >&2
    exit 1
  fi
  (cd web && npm run --silent format:check && npm test)
}

case "${1:-}" in
  build) build ;;
  test) test_web ;;
  *) usage ;;
esac
