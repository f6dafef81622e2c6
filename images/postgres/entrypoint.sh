#!/bin/sh
# PID 1 of the db service: initialise PGDATA when it is empty, write the access rules, exec postgres.
#
#   POSTGRES_USER (app), POSTGRES_DB (= user)      the role and database created at initialisation
#   POSTGRES_PASSWORD_FILE (a Docker secret)       that role's password; POSTGRES_PASSWORD as a fallback.
#                                                  Used at initialisation only (later: ALTER ROLE).
#   POSTGRES_TRUST=1                               network clients need no password. Never in a real lab.
#
# Network clients authenticate with scram-sha-256; local (socket) access is peer only. The superuser
# `postgres` has no password, so it cannot log in over the network. pg_hba.conf is rewritten at every
# start, so switching POSTGRES_TRUST off again takes effect on the next task.
set -eu

PGDATA=${PGDATA:-/var/lib/postgresql/data/pgdata}
user=${POSTGRES_USER:-app}
db=${POSTGRES_DB:-$user}
trust=${POSTGRES_TRUST:-0}

as_postgres() { setpriv --reuid=postgres --regid=postgres --init-groups "$@"; }
die() { echo "entrypoint: $*" >&2; exit 1; }

mkdir -p "$PGDATA" /run/postgresql
chown postgres:postgres /run/postgresql
# the files may come from another image build or from a share created by root
[ "$(stat -c %U "$PGDATA")" = postgres ] || chown -R postgres:postgres "$PGDATA"
chmod 700 "$PGDATA"

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  [ -z "$(ls -A "$PGDATA")" ] || die "$PGDATA has files but no PG_VERSION; refusing to initialise over them"
  pwfile=$(mktemp /run/postgresql/pw.XXXXXX)
  trap 'rm -f "$pwfile"' EXIT
  if [ -n "${POSTGRES_PASSWORD_FILE:-}" ]; then
    [ -r "$POSTGRES_PASSWORD_FILE" ] || die "POSTGRES_PASSWORD_FILE $POSTGRES_PASSWORD_FILE is not readable"
    # without trailing newlines, as the app reads it
    printf '%s' "$(cat "$POSTGRES_PASSWORD_FILE")" > "$pwfile"
  elif [ -n "${POSTGRES_PASSWORD:-}" ]; then
    printf '%s' "$POSTGRES_PASSWORD" > "$pwfile"
  elif [ "$trust" != 1 ]; then
    die "no password: set POSTGRES_PASSWORD_FILE (a Docker secret) or POSTGRES_PASSWORD"
  fi
  chown postgres:postgres "$pwfile"
  chmod 600 "$pwfile"
  echo "entrypoint: initialising $PGDATA (role $user, database $db)"
  as_postgres initdb -D "$PGDATA" -U postgres --auth-local=peer --auth-host=scram-sha-256 \
    --encoding=UTF8 --locale=C.UTF-8 >/dev/null
  as_postgres pg_ctl -D "$PGDATA" -w -o "-c listen_addresses='' -c unix_socket_directories=/run/postgresql" \
    start >/dev/null
  if [ -s "$pwfile" ]; then login="LOGIN PASSWORD :'pw'"; else login="LOGIN"; fi
  as_postgres psql -X -q -v ON_ERROR_STOP=1 -h /run/postgresql -U postgres -d postgres \
    -v user="$user" -v db="$db" <<SQL
\set pw \`cat $pwfile\`
CREATE ROLE :"user" $login;
CREATE DATABASE :"db" OWNER :"user";
SQL
  as_postgres pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
  rm -f "$pwfile"
  trap - EXIT
fi

if [ "$trust" = 1 ]; then
  method=trust
  echo "entrypoint: WARNING: POSTGRES_TRUST=1, network clients connect without a password" >&2
else
  method=scram-sha-256
fi
cat > "$PGDATA/pg_hba.conf" <<HBA
# written by entrypoint.sh at every start; edits here are lost
local all all                peer
host  all all 127.0.0.1/32   scram-sha-256
host  all all ::1/128        scram-sha-256
host  all all all            $method
HBA
chown postgres:postgres "$PGDATA/pg_hba.conf"

exec setpriv --reuid=postgres --regid=postgres --init-groups \
  postgres -D "$PGDATA" -c listen_addresses='*' -c password_encryption=scram-sha-256 -c jit=off
