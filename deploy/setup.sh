#!/bin/sh
# One-command team setup: ./deploy/setup.sh   (see docs/deployment.md)
# Creates the four database passwords as secret files on first use (never in the environment),
# then builds the image and starts PostgreSQL, the migrations, a worker and the UI.
set -eu
cd "$(dirname "$0")/.."
mkdir -p secrets
chmod 700 secrets
for name in db_admin_password db_owner_password db_writer_password db_ui_password; do
    file="secrets/$name.txt"
    if [ ! -s "$file" ]; then
        # Readable by the containers' own users (postgres, provenance) through the bind mount;
        # the 700 directory keeps other users of this machine out.
        (umask 022 && python3 -c "import secrets; print(secrets.token_urlsafe(32))" > "$file")
        echo "created $file"
    fi
done
docker compose up --detach --build
port="${PROVENANCE_UI_PORT:-8501}"
echo "waiting for the migrations and the UI (first build: several minutes)..."
tries=0
until python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/_stcore/health', timeout=3)" 2>/dev/null; do
    tries=$((tries + 1))
    if [ "$tries" -gt 120 ]; then
        docker compose ps
        echo "the UI did not come up; see: docker compose logs migrate ui" >&2
        exit 1
    fi
    sleep 2
done
echo "UI: http://127.0.0.1:${PROVENANCE_UI_PORT:-8501}   ledger: 127.0.0.1:5432 (database provenance)"
