#!/usr/bin/env bash
# Checks charts/dictamesh without a cluster:
#   1. helm lint --strict, for the default values and every example values file;
#   2. helm template for each, validated manifest by manifest against the
#      Kubernetes schemas (kubernetes-validate --strict) of the pinned versions;
#      the ServiceMonitor custom resource is checked by its own fields instead;
#   3. assertions on the rendered output (tests/deploy/check_chart.py): one
#      Deployment per adapter, probes, security context, secrets by reference, HPA
#      metrics and behaviour, PDBs, ServiceMonitor, supergraph.yaml, migrations Job;
#   4. a change of router.config changes the router pods' checksum annotation;
#   5. bad values files (tests/deploy/bad-values/) are rejected by values.schema.json
#      with the messages their "# expect:" lines give, naming the key;
#   6. with DICTAMESH_BIN set (run.sh sets it): the example mesh's adapter
#      containers, started locally with their rendered args and env, compose into
#      a supergraph from the rendered router ConfigMap (`dictamesh compose`).
# Tools are installed on first use by tools.sh (cached outside the clone).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
chart=$root/charts/dictamesh
# The oldest Kubernetes the chart supports (Chart.yaml kubeVersion) and a recent one.
kube_versions=(1.30.0 1.33.0)

# shellcheck source=tests/deploy/tools.sh
source "$here/tools.sh"

work=$(mktemp -d /var/tmp/dictamesh-chart-check.XXXXXX)
trap 'rm -rf "$work"' EXIT

passed=0
fail() { echo "chart: FAIL: $*" >&2; exit 1; }
ok() { echo "ok: $*"; passed=$((passed + 1)); }

# name, values files (beyond the chart's values.yaml), namespace
cases=(
  "defaults||dictamesh"
  "full-example|$chart/examples/full-values.yaml|mesh"
  "variant|$here/values/variant.yaml|other"
  "catalog-only|$here/values/catalog-only.yaml|catalog"
  "example-mesh|$here/values/example-mesh.yaml|mesh"
)

for case in "${cases[@]}"; do
  IFS='|' read -r name values_file namespace <<<"$case"
  values_args=()
  assert_values=("$chart/values.yaml")
  if [ -n "$values_file" ]; then
    values_args=(-f "$values_file")
    assert_values+=("$values_file")
  fi

  "$HELM" lint --strict "$chart" "${values_args[@]}" >"$work/$name.lint" 2>&1 \
    || { cat "$work/$name.lint" >&2; fail "helm lint --strict ($name)"; }
  ok "helm lint --strict ($name)"

  rendered=$work/$name.yaml
  for version in "${kube_versions[@]}"; do
    "$HELM" template "$name" "$chart" --namespace "$namespace" --kube-version "$version" \
      "${values_args[@]}" >"$rendered" 2>"$work/$name.err" \
      || { cat "$work/$name.err" >&2; fail "helm template ($name, Kubernetes $version)"; }
    rm -rf "$work/$name.split"
    "$PYTHON" "$here/check_chart.py" split "$rendered" "$work/$name.split" >/dev/null
    manifests=("$work/$name.split/k8s/"*.yaml)
    # --quiet prints only warnings and errors: any output (e.g. a kind without a
    # schema) is a failure, not just a non-zero exit.
    if ! "$TOOLS_BIN/kubernetes-validate" --kubernetes-version "$version" --strict --quiet \
        "${manifests[@]}" >"$work/$name.validate" 2>&1 || [ -s "$work/$name.validate" ]; then
      cat "$work/$name.validate" >&2
      fail "kubernetes-validate ($name, Kubernetes $version)"
    fi
    ok "$name: ${#manifests[@]} manifests valid against the Kubernetes $version schemas (strict)"
  done

  "$PYTHON" "$here/check_chart.py" assert "$rendered" "${assert_values[@]}" \
    || fail "assertions on the rendered output ($name)"
  ok "$name: assertions on the rendered output"
done

# The full example has the ServiceMonitor; check_chart.py checked its fields above.
grep -q '^kind: ServiceMonitor$' "$work/full-example.yaml" \
  || fail "the full example renders no ServiceMonitor"

# Older clusters lack the preStop sleep action: the chart says so instead of failing later.
if "$HELM" template t "$chart" --kube-version 1.29.0 >/dev/null 2>"$work/old.err"; then
  fail "the chart rendered for Kubernetes 1.29, below its kubeVersion"
fi
grep -q "kubeVersion" "$work/old.err" || { cat "$work/old.err" >&2; fail "rejection for Kubernetes 1.29 does not name kubeVersion"; }
ok "Kubernetes 1.29 is refused by Chart.yaml's kubeVersion"

# Rollouts follow router config changes.
"$HELM" template t "$chart" >"$work/a.yaml"
"$HELM" template t "$chart" --set router.config.limits.max_depth=8 >"$work/b.yaml"
sum_a=$("$PYTHON" "$here/check_chart.py" router-checksum "$work/a.yaml")
sum_b=$("$PYTHON" "$here/check_chart.py" router-checksum "$work/b.yaml")
[ -n "$sum_a" ] && [ "$sum_a" != "$sum_b" ] \
  || fail "changing router.config must change the router pods' checksum/config annotation"
ok "router.config change changes the pod checksum annotation"

# Bad values: rejected by the schema, with the key named.
for bad in "$here"/bad-values/*.yaml; do
  name=$(basename "$bad")
  if "$HELM" template t "$chart" -f "$bad" >/dev/null 2>"$work/bad.err"; then
    fail "bad-values/$name was accepted"
  fi
  grep -q "values don't meet the specifications of the schema" "$work/bad.err" \
    || { cat "$work/bad.err" >&2; fail "bad-values/$name was rejected, but not by values.schema.json"; }
  while IFS= read -r expected; do
    grep -qF -- "$expected" "$work/bad.err" \
      || { cat "$work/bad.err" >&2; fail "bad-values/$name: the error does not say: $expected"; }
  done < <(sed -n 's/^# expect: //p' "$bad")
  [ -n "$(sed -n 's/^# expect: //p' "$bad")" ] || fail "bad-values/$name has no '# expect:' line"
  ok "bad-values/$name rejected: $(sed -n 's/^# expect: //p' "$bad" | head -n 1)"
done

# The router's supergraph.yaml works with the containers the chart runs.
if [ -n "${DICTAMESH_BIN:-}" ]; then
  [ -x "$DICTAMESH_BIN" ] || fail "DICTAMESH_BIN=$DICTAMESH_BIN is not an executable"
  mkdir -p "$work/compose"
  "$PYTHON" "$here/check_chart.py" compose "$work/example-mesh.yaml" "$DICTAMESH_BIN" "$work/compose" \
    || fail "the example mesh's supergraph.yaml does not compose (logs were in $work/compose)"
  ok "example mesh: the router ConfigMap's supergraph.yaml composes with the rendered adapter containers"
else
  echo "note: DICTAMESH_BIN is not set: the supergraph.yaml composition check did not run"
fi

echo "chart checks: $passed passed, 0 failed"
