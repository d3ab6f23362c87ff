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
# The UI's first login (deploy/Caddyfile): the password in a 600 file for the operator to pass
# on, only its bcrypt hash in the secret the proxy reads.
if [ ! -s secrets/ui_users.txt ]; then
    (umask 077 && python3 -c "import secrets; print(secrets.token_urlsafe(18))" > secrets/ui_admin_password.txt)
    hash="$(docker run --rm -i caddy:2 caddy hash-password < secrets/ui_admin_password.txt)"
    (umask 022 && echo "admin $hash" > secrets/ui_users.txt)
    echo "created the UI login 'admin'; its password is in secrets/ui_admin_password.txt"
fi
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
echo "UI for the team: https://${PROVENANCE_SITE:-localhost:8443} (login admin)   on this machine: http://127.0.0.1:$port   ledger: 127.0.0.1:5432 (database provenance)"
