#!/usr/bin/env bash
# Runs Apollo's subgraph compatibility tests (the jest suite of
# @apollo/federation-subgraph-compatibility-tests from npm) against the kit's
# compat-products subgraph, with the suite's users and inventory subgraphs and
# Apollo Gateway as the router. Needs Node.js and npm; ports 4000-4003 free.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
work=${DICTAMESH_COMPAT_DIR:-/var/tmp/dictamesh-compat}
bin=${DICTAMESH_BIN:-${CARGO_TARGET_DIR:-$root/target}/debug/dictamesh}

[ -x "$bin" ] || { echo "compat: no dictamesh binary at $bin (run cargo build first)" >&2; exit 1; }
command -v node >/dev/null || { echo "compat: Node.js is required" >&2; exit 1; }

mkdir -p "$work"
if ! cmp -s "$here/package.json" "$work/package.json" || [ ! -d "$work/node_modules" ]; then
  cp "$here/package.json" "$work/package.json"
  (cd "$work" && npm install --ignore-scripts --no-audit --no-fund --loglevel=error)
fi
cp "$here/gateway.mjs" "$here/summarize.mjs" "$work/"
suite=$work/node_modules/@apollo/federation-subgraph-compatibility-tests

for port in 4000 4001 4002 4003; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "compat: port $port is in use; the suite needs 4000-4003" >&2
    exit 1
  fi
done

pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT

logs=$work/logs
mkdir -p "$logs"
node "$suite/dist/subgraphs/users/index.js" >"$logs/users.log" 2>&1 & pids+=($!)
node "$suite/dist/subgraphs/inventory/index.js" >"$logs/inventory.log" 2>&1 & pids+=($!)
"$bin" subgraph compat-products --listen 127.0.0.1:4001 >"$logs/products.log" 2>&1 & pids+=($!)

wait_for() {
  local url=$1 name=$2
  for _ in $(seq 1 100); do
    if curl -sf -H 'content-type: application/json' -d '{"query":"{ __typename }"}' "$url" >/dev/null 2>&1; then
      return 0
    fi
    sleep 0.2
  done
  echo "compat: $name did not start at $url; see $logs" >&2
  exit 1
}
wait_for http://localhost:4001/ products
wait_for http://localhost:4002/ users
wait_for http://localhost:4003/ inventory
(cd "$work" && PRODUCTS_URL=http://localhost:4001/ exec node gateway.mjs) >"$logs/gateway.log" 2>&1 & pids+=($!)
wait_for http://localhost:4000/ gateway

cd "$work"
PRODUCTS_URL=http://localhost:4001/ node node_modules/jest/bin/jest.js "$suite/dist/tests" \
  --ci --json --outputFile="$work/results.json" --rootDir "$suite" \
  --config "$suite/federation-jest.config.js" >"$logs/jest.log" 2>&1 || true
[ -s "$work/results.json" ] || { echo "compat: jest produced no results; see $logs/jest.log" >&2; exit 1; }
node summarize.mjs "$work/results.json"
