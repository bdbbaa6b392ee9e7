#!/bin/sh
# Makes the secret files deploy/compose.yaml mounts, in deploy/secrets/ (or DIR):
#
#   deploy/init-secrets.sh [DIR]
#
# Existing files are never overwritten: losing a PII key makes every value
# encrypted with it unreadable, so back these files up apart from the database
# backups (docs/deploy.md). Needs openssl.
#
#   postgres_password            the PostgreSQL superuser's password
#   db_password, database_url    the platform role "mhpss" and its URL
#   beneficiary_pii_keys, beneficiary_blind_index_key,
#   training_pii_keys, training_blind_index_key
#                                PII encryption keys ({"k1": base64 32 bytes}) and
#                                blind-index keys (base64 32 bytes), per service
#   token-signing-key.pem        the ES256 key that signs and verifies tokens
#                                when no OIDC provider does (AUTH_JWKS_URL unset)
#   risk_webhook_secret, training_beneficiary_token,
#   beneficiary_training_token, reporting_feed_token
#                                empty; fill them when you use a risk-alert
#                                webhook or an OIDC provider (docs/deploy.md)
set -eu

dir=${1:-$(dirname "$0")/secrets}
mkdir -p "$dir"
chmod 700 "$dir"

key() {
  openssl rand -base64 32
}

make_file() {  # name, then the content on stdin
  if [ -e "$dir/$1" ]; then
    echo "kept    $dir/$1"
    cat >/dev/null
    return 0
  fi
  umask 077
  cat >"$dir/$1"
  # the containers read these as their own users (uid 10001, postgres 999);
  # the folder (mode 700) keeps everyone else on this host out
  chmod 644 "$dir/$1"
  echo "created $dir/$1"
}

printf '%s' "$(openssl rand -hex 24)" | make_file postgres_password
printf '%s' "$(openssl rand -hex 24)" | make_file db_password
printf 'postgresql+asyncpg://mhpss:%s@postgres:5432/mhpss' "$(cat "$dir/db_password")" |
  make_file database_url
for service in beneficiary training; do
  printf '{"k1": "%s"}' "$(key)" | make_file "${service}_pii_keys"
  printf '%s' "$(key)" | make_file "${service}_blind_index_key"
done
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 2>/dev/null |
  make_file token-signing-key.pem
for empty in risk_webhook_secret training_beneficiary_token \
  beneficiary_training_token reporting_feed_token; do
  printf '' | make_file "$empty"
done
