#!/usr/bin/env bash
# The container image and what proves it runs. No registry is reachable from the build
# machines, so the base image is made here from Debian packages.
#
#   scripts/container.sh base       debootstrap a minbase bookworm and `podman import` it
#                                   as localhost/imagegraph-base:bookworm (once; --rebuild)
#   scripts/container.sh build      release binary on the host + web/dist -> podman build
#                                   of the Containerfile -> localhost/imagegraph:latest
#   scripts/container.sh test       the topology test: two `serve` replicas and one
#                                   `worker` from the image against one PostgreSQL and
#                                   one S3 server (moto), see scripts/topology_check.py
#   scripts/container.sh manifests  deploy/*.yaml against the Kubernetes schemas, offline
#
# Installs podman, runc and debootstrap with apt when missing. Settings: IMAGE (the
# image's tag), IMAGEGRAPH_BIN (a release binary to use instead of building one),
# CONTAINERS_CONF (podman settings; default scripts/containers.conf).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

BASE_IMAGE=localhost/imagegraph-base:bookworm
IMAGE=${IMAGE:-localhost/imagegraph:latest}
export CONTAINERS_CONF=${CONTAINERS_CONF:-$ROOT/scripts/containers.conf}
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

say() { printf 'container.sh: %s\n' "$*" >&2; }
die() {
  printf '\ncontainer.sh: FAILED: %s\n' "$*" >&2
  exit 1
}

need_tools() {
  local missing=()
  command -v podman >/dev/null 2>&1 || missing+=(podman)
  command -v runc >/dev/null 2>&1 || missing+=(runc)
  command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
  command -v curl >/dev/null 2>&1 || missing+=(curl)
  if [ ${#missing[@]} -gt 0 ]; then
    say "installing ${missing[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
      "${missing[@]}" >/dev/null
  fi
}

need_venv() {
  if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
  fi
  # pip is quick when everything pinned is already there.
  .venv/bin/pip install -q --disable-pip-version-check -r scripts/requirements-deploy.txt
}

# A minbase bookworm with what the Containerfile's build stage uses: strip (binutils),
# a static busybox (the HEALTHCHECK probe) and the CA roots.
cmd_base() {
  need_tools
  if [ "${1:-}" != "--rebuild" ] && podman image exists "$BASE_IMAGE"; then
    say "base image $BASE_IMAGE is there"
    return
  fi
  local dir
  dir=$(mktemp -d /var/tmp/imagegraph-rootfs.XXXXXX)
  say "debootstrap --variant=minbase bookworm (binutils, busybox-static, ca-certificates)"
  if ! $SUDO debootstrap --variant=minbase --include=binutils,busybox-static,ca-certificates \
    bookworm "$dir/rootfs" "${DEBIAN_MIRROR:-http://deb.debian.org/debian}" >"$dir/debootstrap.log" 2>&1; then
    tail -20 "$dir/debootstrap.log" >&2
    die "debootstrap failed (log above)"
  fi
  $SUDO rm -rf "$dir/rootfs/var/cache/apt/archives/"*.deb "$dir/rootfs/var/lib/apt/lists/"*
  $SUDO tar -C "$dir/rootfs" -c . | podman import -q --change 'CMD ["/bin/bash"]' - "$BASE_IMAGE" >/dev/null
  $SUDO rm -rf "$dir"
  say "imported $BASE_IMAGE"
}

release_binary() {
  if [ -n "${IMAGEGRAPH_BIN:-}" ]; then
    echo "$IMAGEGRAPH_BIN"
    return
  fi
  cargo build --release --locked --bin imagegraph >&2
  local target
  target=$(cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
  echo "$target/release/imagegraph"
}

cmd_build() {
  cmd_base
  local bin context
  bin=$(release_binary)
  [ -x "$bin" ] || die "no release binary at $bin"
  if [ ! -f web/dist/index.html ]; then
    scripts/web.sh build
  fi
  # A context of its own: the repository (target/ above all) stays out of the build.
  context=$(mktemp -d /var/tmp/imagegraph-context.XXXXXX)
  cp "$bin" "$context/imagegraph"
  mkdir -p "$context/web"
  cp -a web/dist "$context/web/dist"
  say "podman build -> $IMAGE (binary $bin)"
  podman build --format docker --layers=false --network host --build-arg "BASE=$BASE_IMAGE" \
    -f Containerfile -t "$IMAGE" "$context" >&2
  rm -rf "$context"
  # The build stage and the image the tag moved away from; nobody else's images.
  podman image prune -f --filter label=io.imagegraph.build=1 >/dev/null
  say "built $IMAGE: $(podman image inspect "$IMAGE" --format '{{.Size}}' |
    awk '{ printf "%.1f MB", $1 / 1e6 }')"
}

cmd_manifests() {
  need_venv
  # --strict: a misspelt field is an error, not something Kubernetes silently drops.
  .venv/bin/kubernetes-validate --strict --kubernetes-version "${KUBERNETES_VERSION:-1.31.0}" deploy/*.yaml
  say "deploy/*.yaml valid against the Kubernetes ${KUBERNETES_VERSION:-1.31.0} schemas"
  .venv/bin/python scripts/deploy_env_check.py
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_http() { # url seconds
  local deadline=$((SECONDS + $2))
  until curl -fsS -o /dev/null "$1" 2>/dev/null; do
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.3
  done
}

pg_bindir() {
  if command -v pg_config >/dev/null 2>&1 && [ -x "$(pg_config --bindir)/initdb" ]; then
    pg_config --bindir
  else
    ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1
  fi
}

cmd_test() {
  need_tools
  need_venv
  podman image exists "$IMAGE" || cmd_build
  [ -x .venv/bin/moto_server ] || scripts/setup.sh --tests

  local work run tag out pg_bin pg_port s3_port port_a port_b
  work=$(mktemp -d /tmp/imagegraph-topology.XXXXXX)
  tag=igtopo$$
  pg_bin=$(pg_bindir)
  pg_port=$(free_port)
  s3_port=$(free_port)
  port_a=$(free_port)
  port_b=$(free_port)
  # shellcheck disable=SC2064 # the names are fixed now
  trap "cleanup_test '$work' '$tag' '$pg_bin'" EXIT

  # PostgreSQL of its own (initdb refuses root: then it runs as `postgres`).
  run=()
  if [ "$(id -u)" -eq 0 ]; then
    chown postgres "$work"
    run=(runuser -u postgres --)
  fi
  "${run[@]}" "$pg_bin/initdb" -D "$work/pg" -U postgres -A trust --no-sync >"$work/initdb.log" 2>&1 ||
    die "initdb failed: $(cat "$work/initdb.log")"
  "${run[@]}" "$pg_bin/pg_ctl" -D "$work/pg" -l "$work/postgres.log" -w -o \
    "-p $pg_port -k $work -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null ||
    die "PostgreSQL did not start: $(cat "$work/postgres.log")"
  "$pg_bin/createdb" -h 127.0.0.1 -p "$pg_port" -U postgres imagegraph
  say "PostgreSQL on 127.0.0.1:$pg_port"

  # The shared object store: moto's S3 server and one bucket.
  .venv/bin/moto_server -H 127.0.0.1 -p "$s3_port" >"$work/moto.log" 2>&1 &
  echo $! >"$work/moto.pid"
  wait_http "http://127.0.0.1:$s3_port/" 30 || die "moto did not start"
  curl -fsS -X PUT "http://127.0.0.1:$s3_port/imagegraph" -o /dev/null
  say "S3 (moto) on 127.0.0.1:$s3_port, bucket imagegraph"

  cat >"$work/env" <<EOF
DATABASE_URL=postgres://postgres@127.0.0.1:$pg_port/imagegraph
STORAGE_URL=s3://imagegraph/media
AWS_ENDPOINT=http://127.0.0.1:$s3_port
AWS_ACCESS_KEY_ID=testing
AWS_SECRET_ACCESS_KEY=testing
AWS_REGION=us-east-1
MEDIA_SECRET=$(python3 -c 'import secrets; print(secrets.token_hex(32))')
RUST_LOG=info
EOF
  # Podman schedules HEALTHCHECKs with systemd timers, absent on machines without
  # systemd: the timer is off and the test runs the check itself below.
  local podman_run=(podman run --network host --health-interval disable --env-file "$work/env")
  # ...and without systemd podman says so at level=error on every run; only that goes.
  prun() { "${podman_run[@]}" "$@" 2> >(grep -v 'unable to get systemd connection' >&2); }
  prun --rm "$IMAGE" migrate || die "migrate in the container failed"
  local token
  token=$(prun --rm "$IMAGE" users create topology --admin) ||
    die "users create in the container failed"
  say "migrated; created an admin"

  # HTTP-only replicas (WORKERS=0); the worker is started by the check, once it has
  # seen that an upload waits for it.
  prun -d --name "$tag-a" -e "LISTEN_ADDR=127.0.0.1:$port_a" -e WORKERS=0 \
    -e "PUBLIC_URL=http://127.0.0.1:$port_a" "$IMAGE" serve >/dev/null
  prun -d --name "$tag-b" -e "LISTEN_ADDR=127.0.0.1:$port_b" -e WORKERS=0 \
    -e "PUBLIC_URL=http://127.0.0.1:$port_b" "$IMAGE" serve >/dev/null
  for name_port in "a:$port_a" "b:$port_b"; do
    wait_http "http://127.0.0.1:${name_port#*:}/readyz" 60 || {
      podman logs "$tag-${name_port%%:*}" >&2 || true
      die "replica ${name_port%%:*} not ready on port ${name_port#*:}"
    }
  done
  say "replicas a (:$port_a) and b (:$port_b) ready"

  # The image's HEALTHCHECK, run the way podman runs it on its schedule.
  for name in a b; do
    out=$(podman healthcheck run "$tag-$name" 2>&1) ||
      die "the HEALTHCHECK of replica $name reports unhealthy: $out"
  done
  echo "ok   HEALTHCHECK (/readyz through busybox wget) healthy on both replicas"
  out=$(podman exec "$tag-a" /usr/local/bin/busybox id 2>/dev/null)
  [ "$out" = "uid=10001(imagegraph) gid=10001(imagegraph)" ] ||
    die "replica a does not run as the unprivileged user: $out"
  echo "ok   the service runs as $out"

  .venv/bin/python scripts/topology_check.py \
    --a "http://127.0.0.1:$port_a" --b "http://127.0.0.1:$port_b" --token "$token" \
    --start-worker "${podman_run[*]} -d --name $tag-worker -e WORKERS=2 $IMAGE worker" \
    --stop-a "podman kill --signal TERM $tag-a" ||
    die "topology check failed (the containers' last log lines follow)"

  # SIGTERM drained: the process exits by itself, cleanly.
  local code
  code=$(timeout 40 podman wait "$tag-a") || die "replica a did not exit within 40 s of SIGTERM"
  [ "$code" = "0" ] || {
    podman logs "$tag-a" >&2
    die "replica a exited with $code after SIGTERM"
  }
  echo "ok   replica a exited with status 0 after SIGTERM"
  if podman logs "$tag-worker" 2>&1 | grep -q 'ERROR'; then
    podman logs "$tag-worker" >&2
    die "the worker logged errors"
  fi
  echo "ok   the worker logged no errors"
  echo "container topology test: PASSED"
}

cleanup_test() { # work tag pg_bin
  local rc=$?
  local work=$1 tag=$2 pg_bin=$3
  if [ $rc -ne 0 ]; then
    for name in a b worker; do
      podman container exists "$tag-$name" || continue
      echo "---- podman logs $tag-$name (last 40 lines)" >&2
      podman logs --tail 40 "$tag-$name" >&2 || true
    done
  fi
  # One at a time: a name that was never started must not keep the others running.
  for name in a b worker; do
    podman rm -f -v --ignore "$tag-$name" >/dev/null 2>&1 || true
  done
  [ -f "$work/moto.pid" ] && kill "$(cat "$work/moto.pid")" 2>/dev/null
  if [ -d "$work/pg" ]; then
    if [ "$(id -u)" -eq 0 ]; then
      runuser -u postgres -- "$pg_bin/pg_ctl" -D "$work/pg" -m immediate stop >/dev/null 2>&1
    else
      "$pg_bin/pg_ctl" -D "$work/pg" -m immediate stop >/dev/null 2>&1
    fi
  fi
  rm -rf "$work"
  return $rc
}

case "${1:-}" in
base) shift && cmd_base "$@" ;;
build) cmd_build ;;
test) cmd_test ;;
manifests) cmd_manifests ;;
*)
  echo "usage: $0 base [--rebuild] | build | test | manifests" >&2
  exit 2
  ;;
esac
