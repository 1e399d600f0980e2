#!/usr/bin/env bash
# An unchanged Apollo Client (from npm) against `dictamesh dev`: a federated
# query, automatic persisted queries and batching. Needs Node.js and npm.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
work=${DICTAMESH_APOLLO_CLIENT_DIR:-/var/tmp/dictamesh-apollo-client}
bin=${DICTAMESH_BIN:-${CARGO_TARGET_DIR:-$root/target}/debug/dictamesh}
[ -x "$bin" ] || { echo "apollo-client: no dictamesh binary at $bin (run cargo build first)" >&2; exit 1; }

mkdir -p "$work"
if ! cmp -s "$here/package.json" "$work/package.json" || [ ! -d "$work/node_modules" ]; then
  cp "$here/package.json" "$work/package.json"
  (cd "$work" && npm install --ignore-scripts --no-audit --no-fund --loglevel=error)
fi
cp "$here/client.mjs" "$work/"

data=$(mktemp -d)
cat >"$data/supergraph.yaml" <<'YAML'
subgraphs:
  customers: {routing_url: "http://127.0.0.1:0/graphql", schema: {subgraph_url: "http://127.0.0.1:0/graphql"}}
  products: {routing_url: "http://127.0.0.1:0/graphql", schema: {subgraph_url: "http://127.0.0.1:0/graphql"}}
  invoices: {routing_url: "http://127.0.0.1:0/graphql", schema: {subgraph_url: "http://127.0.0.1:0/graphql"}}
YAML
"$bin" dev --listen 127.0.0.1:0 --supergraph "$data/supergraph.yaml" --data-dir "$data/mesh" >"$data/dev.log" 2>&1 &
dev=$!
trap 'kill $dev 2>/dev/null || true; rm -rf "$data"' EXIT

router=""
for _ in $(seq 1 300); do
  router=$(sed -n 's|^ *router (GraphiQL) *\(http://[^ ]*\)/$|\1|p' "$data/dev.log")
  [ -n "$router" ] && break
  kill -0 $dev 2>/dev/null || { cat "$data/dev.log" >&2; exit 1; }
  sleep 0.2
done
[ -n "$router" ] || { echo "apollo-client: dictamesh dev did not start" >&2; cat "$data/dev.log" >&2; exit 1; }

cd "$work"
node client.mjs "$router/graphql"
