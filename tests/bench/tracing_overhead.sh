#!/usr/bin/env bash
# The router's tracing overhead in instructions per request, which valgrind's
# callgrind counts the same way however busy the machine is: the benchmark
# query (graphql-gateways-benchmark shape, four kit subgraphs served by
# `dictamesh bench`) sent N times to a router with spans on and off; the
# per-request figure is the difference between runs of 120 and 20 requests.
# Usage: tests/bench/tracing_overhead.sh [path/to/dictamesh] (a release build).
set -euo pipefail
bin=${1:-${CARGO_TARGET_DIR:-target}/release/dictamesh}
command -v valgrind >/dev/null || { echo "needs valgrind" >&2; exit 1; }
work=$(mktemp -d)
"$bin" bench --serve-only >"$work/bench.log" 2>&1 &
bench=$!
trap 'kill $bench 2>/dev/null || true; rm -rf "$work"' EXIT
supergraph=""
for _ in $(seq 1 120); do
  supergraph=$(ls /tmp/dictamesh-bench-$bench/supergraph.graphql 2>/dev/null || true)
  [ -n "$supergraph" ] && break
  sleep 0.5
done
[ -n "$supergraph" ] || { echo "dictamesh bench did not start" >&2; cat "$work/bench.log" >&2; exit 1; }
sed -n '/pub const BENCHMARK_QUERY: &str = r#"/,/"#;/p' "$(dirname "$0")/../../example-subgraphs/bench/src/lib.rs" \
  | sed -e '1s/.*r#"//' -e '$s/"#;.*//' \
  | python3 -c 'import json,sys; print(json.dumps({"query": sys.stdin.read()}))' >"$work/body.json"

instructions() { # tracing requests
  local port=4890 out="$work/cg.$1.$2"
  DICTAMESH_TRACING=$1 DICTAMESH_LOG=warn valgrind --tool=callgrind --callgrind-out-file="$out" \
    "$bin" router --supergraph "$supergraph" --listen 127.0.0.1:$port >"$out.log" 2>&1 &
  local router=$!
  for _ in $(seq 1 300); do curl -sf http://127.0.0.1:$port/health/ready >/dev/null && break; sleep 0.5; done
  for _ in $(seq 1 "$2"); do
    curl -sf -H 'content-type: application/json' --data @"$work/body.json" http://127.0.0.1:$port/graphql -o /dev/null
  done
  kill -TERM $router; wait $router || true
  sed -n 's/^summary: //p' "$out"
}
off=$(( ($(instructions off 120) - $(instructions off 20)) / 100 ))
on=$(( ($(instructions on 120) - $(instructions on 20)) / 100 ))
echo "instructions per request: spans off $off, spans on $on"
python3 -c "print(f'tracing overhead: {($on / $off - 1) * 100:.1f}% instructions per request')"
