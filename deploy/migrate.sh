#!/bin/sh
# The `migrate` service of docker-compose.yml: bring the ledger to the code's schema as
# provenance_owner, then grant the worker and UI roles their table privileges. Idempotent: it runs
# at every `docker compose up`, and the worker and UI start only after it succeeded.
set -eu
provenance db upgrade
PGPASSWORD="$(cat "$PROVENANCE_DB_PASSWORD_FILE")" psql -v ON_ERROR_STOP=1 --quiet \
    --host "$PGHOST" --username provenance_owner --dbname "$PGDATABASE" \
    --file /app/deploy/grants.sql
echo "ledger migrated; privileges granted"
