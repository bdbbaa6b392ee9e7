#!/bin/sh
# Runs once, when the PostgreSQL container initialises an empty data volume:
# the platform's own role (not a superuser) and its three databases. The
# services' migrate commands find the databases there and never need CREATEDB.
set -eu
password=$(cat "${MHPSS_DB_PASSWORD_FILE:?}")
psql -v ON_ERROR_STOP=1 --username "${POSTGRES_USER:-postgres}" --dbname postgres \
  -v password="$password" <<'SQL'
CREATE ROLE mhpss LOGIN PASSWORD :'password';
CREATE DATABASE mhpss_beneficiary OWNER mhpss;
CREATE DATABASE mhpss_training OWNER mhpss;
CREATE DATABASE mhpss_reporting OWNER mhpss;
SQL
