#!/usr/bin/env bash
# The deploy checks (issue #9), for .ci/run: static checks of the Dockerfile and
# these scripts, the Helm chart (chart.sh) and the image contract
# (image_contract.sh), both using the debug build of dictamesh, built here (a
# no-op when up to date; give DICTAMESH_BIN=/path/to/dictamesh to use another).
# Runs as root; needs no cluster and no Docker engine.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
started=$(date +%s)
step() { echo; echo "-- deploy: $* (at $(( $(date +%s) - started ))s)"; }

# shellcheck source=tests/deploy/tools.sh
source "$here/tools.sh"

step "hadolint Dockerfile, shellcheck tests/deploy"
"$TOOLS_BIN/hadolint" "$root/Dockerfile"
(cd "$root" && "$TOOLS_BIN/shellcheck" -x tests/deploy/*.sh)
echo "ok: Dockerfile and scripts are clean"

if [ -z "${DICTAMESH_BIN:-}" ]; then
  step "cargo build -p dictamesh-cli"
  export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/var/tmp/dictamesh-target}
  (cd "$root" && cargo build --locked --quiet -p dictamesh-cli)
  export DICTAMESH_BIN=$CARGO_TARGET_DIR/debug/dictamesh
fi

step "Helm chart"
bash "$here/chart.sh"

step "image contract"
bash "$here/image_contract.sh"

step "done in $(( $(date +%s) - started ))s: static checks, Helm chart, image contract"
echo "deploy: 3 passed, 0 failed"
