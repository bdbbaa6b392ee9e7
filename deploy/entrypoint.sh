#!/bin/sh
# The container's entrypoint: one image runs every process of the platform.
#
#   api <service> [uvicorn options]   the service's HTTP API (uvicorn, one process)
#   worker <service>                  the service's arq worker
#   migrate <service>|all             upgrade the schema to head (one-off job)
#   wait-for-schema <service>         block until the database is at this image's head
#   token --org <uuid> --role <role> --sub <user>
#                                     issue a token with the local signing key
#                                     (only when AUTH_JWKS_URL is unset)
#   healthcheck [api|worker <service>]
#                                     exit 0 when the process is healthy
#   anything else                     run as given, with the secrets loaded
#                                     (e.g. python -m services.beneficiary --help)
#
# <service> is beneficiary, training or reporting.
#
# Secrets may come as files: for each secret setting (SECRET_SETTINGS below, with
# or without a service prefix, and SERVICE_SECRETS), NAME_FILE names a file whose
# content becomes NAME unless NAME is set (Compose and Kubernetes mount secrets
# as files).
# LOCAL_SIGNING_KEY_PATH, when set and AUTH_JWKS_URL is not, is linked into
# DATA_DIR as the token signing key, so every service shares one key when no
# OIDC provider signs tokens.
set -eu

SERVICES="beneficiary training reporting"

die() {
  echo "entrypoint: $*" >&2
  exit 64
}

# The settings that may hold secrets; each may also be given as NAME_FILE.
SECRET_SETTINGS="DATABASE_URL REDIS_URL PII_KEYS PII_ACTIVE_KEY BLIND_INDEX_KEY
BLIND_INDEX_KEYS BLIND_INDEX_ACTIVE"
SERVICE_SECRETS="REPORTING_FEED_TOKEN TRAINING_BENEFICIARY_TOKEN BENEFICIARY_TRAINING_TOKEN
BENEFICIARY_RISK_WEBHOOK_URL BENEFICIARY_RISK_WEBHOOK_SECRET"

load_file_secrets() {
  names=$SERVICE_SECRETS
  for setting in $SECRET_SETTINGS; do
    names="$names $setting"
    for prefix in BENEFICIARY TRAINING REPORTING; do
      names="$names ${prefix}_$setting"
    done
  done
  for name in $names; do
    eval "current=\${${name}:-}"
    eval "path=\${${name}_FILE:-}"
    if [ -z "$current" ] && [ -n "$path" ]; then
      [ -r "$path" ] || die "${name}_FILE=$path is not readable"
      value=$(cat "$path")
      export "${name}=${value}"
    fi
  done
}

link_signing_key() {
  # With an OIDC provider (AUTH_JWKS_URL) tokens are verified with its keys.
  [ -n "${LOCAL_SIGNING_KEY_PATH:-}" ] && [ -z "${AUTH_JWKS_URL:-}" ] || return 0
  [ -r "$LOCAL_SIGNING_KEY_PATH" ] ||
    die "LOCAL_SIGNING_KEY_PATH=$LOCAL_SIGNING_KEY_PATH is not readable; every" \
      "service must share one signing key (or set AUTH_JWKS_URL)"
  data_dir=${DATA_DIR:-data}
  target="$data_dir/token-signing-key.pem"
  mkdir -p "$data_dir"
  if [ -e "$target" ] && [ ! -L "$target" ]; then
    die "$target exists as a file; remove it or unset LOCAL_SIGNING_KEY_PATH"
  fi
  ln -sfn "$LOCAL_SIGNING_KEY_PATH" "$target"
}

service_arg() {
  [ $# -ge 1 ] || die "name a service: $SERVICES"
  for known in $SERVICES; do
    [ "$1" = "$known" ] && return 0
  done
  die "unknown service '$1' (expected one of: $SERVICES)"
}

[ $# -ge 1 ] || set -- api beneficiary
command=$1
shift

case "$command" in
  api)
    service_arg "$@"
    service=$1
    shift
    load_file_secrets
    link_signing_key
    # ROOT_PATH: the prefix the ingress strips (/beneficiary ...), so links in
    # the API docs carry it; set it empty when the API is served at the root.
    # X-Forwarded-* is believed by the app itself, from TRUSTED_PROXIES only
    # (docs/configuration.md), never by uvicorn.
    exec uvicorn --factory "services.${service}.app:create_app" \
      --host "${HOST:-0.0.0.0}" --port "${PORT:-8000}" \
      --root-path "${ROOT_PATH-/$service}" \
      --workers "${WEB_CONCURRENCY:-1}" \
      --no-proxy-headers \
      --timeout-graceful-shutdown "${GRACEFUL_SHUTDOWN_SECONDS:-20}" \
      --no-access-log "$@"
    ;;
  worker)
    service_arg "$@"
    load_file_secrets
    link_signing_key
    exec python -m "services.$1" worker
    ;;
  migrate)
    [ $# -ge 1 ] || die "name a service or 'all'"
    load_file_secrets
    if [ "$1" = all ]; then
      for each in $SERVICES; do
        python -m "services.$each" migrate
      done
      exit 0
    fi
    service_arg "$@"
    exec python -m "services.$1" migrate
    ;;
  wait-for-schema)
    service_arg "$@"
    load_file_secrets
    exec python "$(dirname "$0")/container.py" wait-for-schema "$@"
    ;;
  token)
    load_file_secrets
    link_signing_key
    exec python -m shared.tokens "$@"
    ;;
  healthcheck)
    load_file_secrets
    exec python "$(dirname "$0")/container.py" health "$@"
    ;;
  *)
    load_file_secrets
    link_signing_key
    exec "$command" "$@"
    ;;
esac
