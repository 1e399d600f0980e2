#!/usr/bin/env bash
# The container image's contract, checked without a Docker engine: the dictamesh
# binary runs as uid/gid 1000 with no capabilities, from a read-only directory, on a
# read-only root filesystem where only /tmp is writable (HOME=TMPDIR=/tmp), as the
# image and the Helm chart's security context run it. Each subcommand the binary
# has starts, answers /health/live and /health/ready with 200, and exits cleanly on
# SIGTERM (what Kubernetes sends).
#
# The read-only root comes from a private mount namespace (unshare), so this must run
# as root, like CI. Uses the debug build by default:
#   DICTAMESH_BIN=/path/to/dictamesh bash tests/deploy/image_contract.sh
set -euo pipefail

source_bin=${DICTAMESH_BIN:-${CARGO_TARGET_DIR:-/var/tmp/dictamesh-target}/debug/dictamesh}
uid=1000
gid=1000

fail() { echo "image contract: FAIL: $*" >&2; exit 1; }

[ -x "$source_bin" ] || fail "no dictamesh binary at $source_bin (run cargo build -p dictamesh-cli, or set DICTAMESH_BIN)"
[ "$(id -u)" -eq 0 ] || fail "must run as root (it drops to uid $uid itself and needs a mount namespace)"
for tool in unshare setpriv curl python3 mount; do
  command -v "$tool" >/dev/null || fail "$tool is required"
done

# work/bin: the image's read-only binary directory; work/tmp: the pod's writable /tmp.
work=$(mktemp -d /var/tmp/dictamesh-image-contract.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
chmod 0755 "$work"
mkdir -p "$work/bin" "$work/tmp" "$work/logs"
cp "$source_bin" "$work/bin/dictamesh"
chmod 0555 "$work/bin/dictamesh" "$work/bin"
chown "$uid:$gid" "$work/tmp"
chmod 1777 "$work/tmp"

# Runs "$@" (a dictamesh command line) as the image would, in the background;
# sets $last_pid. Inside a private mount namespace every mount except /dev, /proc
# and /sys becomes read-only, then the pod's /tmp is bound over /tmp.
run_as_image() {
  local log=$1
  shift
  # shellcheck disable=SC2016 # expanded by the inner shell
  unshare --mount --propagation private -- bash -c '
    set -euo pipefail
    work=$1 uid=$2 gid=$3
    shift 3
    while read -r mountpoint; do
      case "$mountpoint" in
        /dev|/dev/*|/proc|/proc/*|/sys|/sys/*) ;;
        *) mount -o remount,bind,ro "$mountpoint" 2>/dev/null || true ;;
      esac
    done < <(awk "{ print \$5 }" /proc/self/mountinfo | sort -u)
    mount --bind "$work/tmp" /tmp
    mount -o remount,bind,rw /tmp
    if touch /etc/.dictamesh-rw-probe 2>/dev/null; then
      echo "the root filesystem is still writable in the namespace" >&2
      exit 97
    fi
    cd "$work/bin"
    exec setpriv --reuid="$uid" --regid="$gid" --clear-groups \
      --inh-caps=-all --bounding-set=-all --no-new-privs \
      env -i PATH=/usr/local/bin:/usr/bin:/bin HOME=/tmp TMPDIR=/tmp \
        DICTAMESH_LOG=info DICTAMESH_LOG_FORMAT=json "$@"
  ' run_as_image "$work" "$uid" "$gid" "$@" >"$log" 2>&1 &
  last_pid=$!
  pids+=("$last_pid")
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Waits until a probe answers 200; fails naming the service and its log.
expect_200() {
  local name=$1 url=$2 pid=$3 log=$4 code=000
  for _ in $(seq 1 150); do
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$url" || true)
    [ "$code" = 200 ] && return 0
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "--- $log" >&2; tail -n 20 "$log" >&2
      fail "$name exited before $url answered 200"
    fi
    sleep 0.2
  done
  echo "--- $log" >&2; tail -n 20 "$log" >&2
  fail "$name: $url answered $code, not 200, within 30s"
}

# Sends SIGTERM and expects a clean exit within 10s (the chart's grace period is longer).
expect_clean_stop() {
  local name=$1 pid=$2 log=$3 status=0
  kill -TERM "$pid"
  for _ in $(seq 1 50); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.2
  done
  if kill -0 "$pid" 2>/dev/null; then
    kill -KILL "$pid" 2>/dev/null || true
    fail "$name did not stop within 10s of SIGTERM"
  fi
  wait "$pid" || status=$?
  if [ "$status" -ne 0 ]; then
    echo "--- $log" >&2; tail -n 20 "$log" >&2
    fail "$name exited with status $status after SIGTERM"
  fi
}

passed=0
# check NAME [VAR=VALUE...] -- ARGS...: starts `dictamesh ARGS --listen 127.0.0.1:PORT`
# as the image would, with only the given variables set, probes it and stops it.
check() {
  local name=$1 port log pid
  shift
  local env_vars=()
  while [ "$1" != "--" ]; do env_vars+=("$1"); shift; done
  shift
  port=$(free_port)
  log="$work/logs/${name// /-}.log"
  run_as_image "$log" "${env_vars[@]}" "$work/bin/dictamesh" "$@" --listen "127.0.0.1:$port"
  pid=$last_pid
  expect_200 "$name" "http://127.0.0.1:$port/health/live" "$pid" "$log"
  expect_200 "$name" "http://127.0.0.1:$port/health/ready" "$pid" "$log"
  local ids
  ids=$(awk '/^Uid:|^Gid:/ { print $2 }' "/proc/$pid/status" | tr '\n' ' ')
  [ "$ids" = "$uid $gid " ] || fail "$name runs as uid/gid ${ids% }, not $uid $gid"
  expect_clean_stop "$name" "$pid" "$log"
  echo "ok: $name as uid $uid on a read-only root: /health/live and /health/ready 200, clean stop on SIGTERM"
  passed=$((passed + 1))
}

# The sandbox itself: as uid 1000, /tmp is writable; the working directory (the
# binary's) and the rest of the filesystem are not.
probe_log="$work/logs/sandbox.log"
# shellcheck disable=SC2016 # expanded by the sandboxed shell
run_as_image "$probe_log" /bin/sh -c \
  'touch /tmp/probe && ! touch ./probe 2>/dev/null && ! touch /var/tmp/probe 2>/dev/null && [ "$(id -u)" = 1000 ]'
wait "$last_pid" || fail "sandbox: /tmp must be writable and the working directory and /var/tmp read-only for uid $uid ($(cat "$probe_log"))"
echo "ok: sandbox: uid $uid, only /tmp writable"

mkdir -p "$work/tmp/products"
cat >"$work/tmp/products/products.json" <<'JSON'
[{"id": "1", "sku": "sku-1", "name": "Widget", "price_amount": "19.99", "price_currency": "EUR"}]
JSON
chown -R "$uid:$gid" "$work/tmp/products"

commands=$("$source_bin" --help)
has_command() { grep -qE "^  $1( |$)" <<<"$commands"; }

check "subgraph customers" DATABASE_URL='sqlite:///tmp/customers.db?mode=rwc' -- subgraph customers
check "subgraph invoices" DATABASE_URL='sqlite:///tmp/invoices.db?mode=rwc' -- subgraph invoices
check "subgraph products" PRODUCTS_DIR=/tmp/products -- subgraph products
check "subgraph compat-products" -- subgraph compat-products

skipped=()
if has_command catalog; then
  check "catalog" DATABASE_URL='sqlite:///tmp/catalog.db?mode=rwc' -- catalog
else
  skipped+=(catalog)
fi

if has_command router; then
  # The router composes from a running subgraph, as in the chart.
  sub_port=$(free_port)
  run_as_image "$work/logs/router-subgraph.log" PRODUCTS_DIR=/tmp/products "$work/bin/dictamesh" subgraph products --listen "127.0.0.1:$sub_port"
  sub_pid=$last_pid
  expect_200 "router's subgraph" "http://127.0.0.1:$sub_port/health/ready" "$sub_pid" "$work/logs/router-subgraph.log"
  cat >"$work/tmp/supergraph.yaml" <<YAML
federation_version: =2.3.2
subgraphs:
  products:
    routing_url: http://127.0.0.1:$sub_port/graphql
    schema:
      subgraph_url: http://127.0.0.1:$sub_port/graphql
YAML
  echo '{}' >"$work/tmp/router.yaml"
  chown "$uid:$gid" "$work/tmp/supergraph.yaml" "$work/tmp/router.yaml"
  check "router" -- router --supergraph /tmp/supergraph.yaml --config /tmp/router.yaml
  expect_clean_stop "router's subgraph" "$sub_pid" "$work/logs/router-subgraph.log"
else
  skipped+=(router)
fi

if [ "${#skipped[@]}" -gt 0 ]; then
  echo "skipped (not subcommands of this binary yet): ${skipped[*]}"
fi
echo "image contract: $passed passed, 0 failed"
