#!/usr/bin/env bash
# Backs up the platform's databases: one pg_dump file per database, in
# PostgreSQL's custom format (compressed, restorable table by table), each read
# back with pg_restore --list before it counts, plus SHA256SUMS.
#
#   deploy/backup.sh [--compose] [-o DIR] [DATABASE...]
#
# DATABASE defaults to the three services' databases, ${MHPSS_DB_PREFIX:-mhpss}_
# beneficiary, _training and _reporting. DIR defaults to
# ./backups/<UTC timestamp>. The server is the one libpq's environment names
# (PGHOST, PGPORT, PGUSER, PGPASSWORD or ~/.pgpass); with --compose, pg_dump
# runs in the postgres container of deploy/compose.yaml as the superuser.
#
# The keys are NOT in these files: without the PII keys of the time (in
# deploy/secrets/ or your secret store) encrypted names, phone numbers and
# notes cannot be read. Back them up too, elsewhere (docs/deploy.md).
set -euo pipefail
umask 077

here=$(cd "$(dirname "$0")" && pwd)
compose=0
out=""
while [ $# -gt 0 ]; do
  case "$1" in
    --compose) compose=1; shift ;;
    -o) out=$2; shift 2 ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    --) shift; break ;;
    -*) echo "backup: unknown option $1" >&2; exit 64 ;;
    *) break ;;
  esac
done
prefix=${MHPSS_DB_PREFIX:-mhpss}
if [ $# -eq 0 ]; then
  set -- "${prefix}_beneficiary" "${prefix}_training" "${prefix}_reporting"
fi
out=${out:-./backups/$(date -u +%Y%m%dT%H%M%SZ)}

pg() {  # a PostgreSQL client tool, here or in the compose postgres container
  if [ "$compose" = 1 ]; then
    docker compose -f "$here/compose.yaml" exec -T -e PGUSER=postgres postgres "$@"
  else
    "$@"
  fi
}

mkdir -p "$out"
chmod 700 "$out"
for database in "$@"; do
  file="$out/$database.dump"
  started=$(date +%s)
  pg pg_dump --format=custom --compress=6 --dbname="$database" >"$file.partial"
  pg pg_restore --list <"$file.partial" >/dev/null
  mv "$file.partial" "$file"
  echo "backup: $database -> $file ($(wc -c <"$file") bytes, $(($(date +%s) - started)) s)"
done
(cd "$out" && sha256sum -- *.dump >SHA256SUMS)
echo "backup: done, in $out"
