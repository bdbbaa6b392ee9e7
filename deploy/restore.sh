#!/usr/bin/env bash
# Restores one database from a backup.sh file into an EMPTY database (created
# when it does not exist; refused when it holds any table), in one transaction:
# it either restores completely or leaves the database empty.
#
#   deploy/restore.sh [--compose] [--owner ROLE] DUMP_FILE DATABASE
#
# --owner ROLE   create the database owned by ROLE and restore every object as
#                ROLE (the role the services connect as, e.g. mhpss); needs a
#                superuser or a member of ROLE. Without it, objects belong to
#                the user restoring.
# --compose      run the PostgreSQL tools in the postgres container of
#                deploy/compose.yaml as the superuser.
# The server is the one libpq's environment names (PGHOST, PGPORT, PGUSER,
# PGPASSWORD or ~/.pgpass). The services come up on the restored database as
# they are: its schema version is in the dump, so `migrate` only upgrades it
# when the image is newer than the backup. Use the PII keys of the backup's time.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
compose=0
owner=""
while [ $# -gt 0 ]; do
  case "$1" in
    --compose) compose=1; shift ;;
    --owner) owner=$2; shift 2 ;;
    -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
    --) shift; break ;;
    -*) echo "restore: unknown option $1" >&2; exit 64 ;;
    *) break ;;
  esac
done
if [ $# -ne 2 ]; then
  echo "usage: restore.sh [--compose] [--owner ROLE] DUMP_FILE DATABASE" >&2
  exit 64
fi
dump=$1
database=$2
for name in "$database" "$owner"; do
  if [ -n "$name" ] && ! [[ "$name" =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]]; then
    echo "restore: '$name' is not a plain PostgreSQL name" >&2
    exit 64
  fi
done
[ -r "$dump" ] || { echo "restore: cannot read $dump" >&2; exit 66; }

pg() {
  if [ "$compose" = 1 ]; then
    docker compose -f "$here/compose.yaml" exec -T -e PGUSER=postgres postgres "$@"
  else
    "$@"
  fi
}
sql() {  # database, statement
  pg psql --no-psqlrc --quiet --tuples-only --no-align -v ON_ERROR_STOP=1 \
    --dbname="$1" --command="$2" </dev/null
}

pg pg_restore --list <"$dump" >/dev/null
exists=$(sql postgres "SELECT 1 FROM pg_database WHERE datname = '$database'")
if [ -z "$exists" ]; then
  sql postgres "CREATE DATABASE \"$database\"${owner:+ OWNER \"$owner\"}"
  echo "restore: created database $database"
fi
tables=$(sql "$database" "SELECT count(*) FROM pg_class c JOIN pg_namespace n
  ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg_toast%'")
if [ "$tables" != 0 ]; then
  echo "restore: $database is not empty ($tables relations); restore into a new" \
    "database, or rename this one first" >&2
  exit 65
fi
started=$(date +%s)
pg pg_restore --exit-on-error --single-transaction --no-owner --no-privileges \
  ${owner:+--role="$owner"} --dbname="$database" <"$dump"
sql "$database" "ANALYZE" >/dev/null
echo "restore: $dump -> $database ($(($(date +%s) - started)) s)"
