#!/usr/bin/env bash
# Fills corpus/parse_validate_plan with the federation audit's queries (one file per
# query and supergraph choice). Usage: router/fuzz/seed.sh [AUDIT_DIR]
set -euo pipefail
cd "$(dirname "$0")"
audit=${1:-../../../shared/federation-audit}
out=corpus/parse_validate_plan
mkdir -p "$out"
python3 - "$audit" "$out" <<'PY'
import json, os, sys
audit, out = sys.argv[1], sys.argv[2]
suites = sorted(d for d in os.listdir(audit) if os.path.isfile(os.path.join(audit, d, "supergraph.graphql")))
for index, suite in enumerate(suites):
    cases = json.load(open(os.path.join(audit, suite, "tests.json")))
    for number, case in enumerate(cases):
        # Byte 0 picks the supergraph: 0 is the built-in one, 1.. the sorted suites.
        with open(os.path.join(out, f"{suite}-{number}"), "wb") as f:
            f.write(bytes([index + 1]) + case["query"].encode())
PY
echo "seeded $(ls "$out" | wc -l) inputs"
