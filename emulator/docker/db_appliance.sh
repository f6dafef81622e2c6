#!/bin/sh
# PID 1 of a database appliance (emulator docker backend), in lab/postgres:15. At every start: initialise PGDATA
# when empty, create or update the default user (its password from a file, never an argument) and its database
# of the same name, install the rendered pg_hba.conf (the appliance's source networks), listen on the port.
#
#   /lab-db/user, /lab-db/port, /lab-db/pg_hba.conf   written by the backend (read-only bind mount)
#   /lab-db/password                                  the user's password, mode 600
set -eu

conf=/lab-db
PGDATA=/var/lib/postgresql/data/pgdata
user=$(cat "$conf/user")
port=$(cat "$conf/port")

as_postgres() { setpriv --reuid=postgres --regid=postgres --init-groups "$@"; }

mkdir -p "$PGDATA" /run/postgresql
chown postgres:postgres /run/postgresql
[ "$(stat -c %U "$PGDATA")" = postgres ] || chown -R postgres:postgres "$PGDATA"
chmod 700 "$PGDATA"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  echo "db-appliance: initialising $PGDATA"
  as_postgres initdb -D "$PGDATA" -U postgres --auth-local=peer --auth-host=scram-sha-256 \
    --encoding=UTF8 --locale=C.UTF-8 >/dev/null
fi

pwfile=$(mktemp /run/postgresql/pw.XXXXXX)
trap 'rm -f "$pwfile"' EXIT
cat "$conf/password" > "$pwfile"
chown postgres:postgres "$pwfile"
chmod 600 "$pwfile"
as_postgres pg_ctl -D "$PGDATA" -w -o "-c listen_addresses='' -c unix_socket_directories=/run/postgresql" \
  start >/dev/null
as_postgres psql -X -q -v ON_ERROR_STOP=1 -h /run/postgresql -U postgres -d postgres -v user="$user" <<SQL
\set pw \`cat $pwfile\`
SELECT NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'user') AS missing \gset
\if :missing
CREATE ROLE :"user" LOGIN PASSWORD :'pw';
CREATE DATABASE :"user" OWNER :"user";
\else
ALTER ROLE :"user" LOGIN PASSWORD :'pw';
\endif
SQL
as_postgres pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
rm -f "$pwfile"
trap - EXIT

cp "$conf/pg_hba.conf" "$PGDATA/pg_hba.conf"
chown postgres:postgres "$PGDATA/pg_hba.conf"
echo "db-appliance: serving on port $port"
exec setpriv --reuid=postgres --regid=postgres --init-groups \
  postgres -D "$PGDATA" -c listen_addresses='*' -c port="$port" -c password_encryption=scram-sha-256 -c jit=off
