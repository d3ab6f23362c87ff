#!/bin/sh
# The `migrate` service of docker-compose.yml: bring the ledger to the code's schema as
# provenance_owner, then grant the worker and UI roles their table privileges. Idempotent: it runs
# at every `docker compose up`, and the worker and UI start only after it succeeded.
set -eu
provenance db upgrade
# psql reads the owner's password from a pgpass file made here (mode 600, removed on exit), never
# from PGPASSWORD (readable in /proc/PID/environ and inherited by every child) or the command
# line. The secret is a token_urlsafe string (deploy/setup.sh): no ':' or '\' to escape.
umask 077
pgpass="$(mktemp)"
trap 'rm -f "$pgpass"' EXIT
printf '%s:*:%s:provenance_owner:%s\n' "$PGHOST" "$PGDATABASE" \
    "$(cat "$PROVENANCE_DB_PASSWORD_FILE")" > "$pgpass"
PGPASSFILE="$pgpass" psql -v ON_ERROR_STOP=1 --quiet --no-password \
    --host "$PGHOST" --username provenance_owner --dbname "$PGDATABASE" \
    --file "$(dirname "$0")/grants.sql"
echo "ledger migrated; privileges granted"
