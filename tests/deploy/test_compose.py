"""docker-compose.yml checked statically (no container engine runs here) against what each
service needs: its role's URL and password file, secrets, loopback-only ports, healthchecks, the
order migrations -> worker and UI, and the init scripts that create the roles."""

import os
import re
import tomllib
from pathlib import Path

import pytest
import yaml
from sqlalchemy.engine import make_url

from db.session import url_from_environment

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
APP_ROLES = {"migrate": "provenance_owner", "worker": "provenance_writer", "ui": "provenance_ui"}


def _secret_path(service: dict, name: str) -> str:
    assert name in service.get("secrets", []), f"secret {name} is not mounted"
    return f"/run/secrets/{name}"


def test_services_and_secrets_are_declared():
    assert set(SERVICES) == {"db", "migrate", "worker", "ui", "proxy"}
    declared = COMPOSE["secrets"]
    for name, secret in declared.items():
        assert secret["file"].startswith("./secrets/"), name  # git-ignored, made by setup.sh
    assert "secrets/" in (ROOT / ".gitignore").read_text().split()
    setup = (ROOT / "deploy" / "setup.sh").read_text()
    made = set(re.findall(r"\b(db_\w+_password|ui_users)\b", setup))
    assert made == set(declared), "deploy/setup.sh must create every declared secret file"
    for service in SERVICES.values():
        assert set(service.get("secrets", [])) <= set(declared)


def test_no_password_in_any_environment():
    for name, service in SERVICES.items():
        for key, value in service.get("environment", {}).items():
            assert not (key.endswith("PASSWORD") and value), f"{name}: {key} set in clear"
            if key == "PROVENANCE_DB_URL":
                assert make_url(value).password is None, f"{name}: password in the URL"


def test_ports_are_bound_to_loopback_only():
    published = 0
    for name, service in SERVICES.items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} beyond loopback"
            published += 1
        if service.get("network_mode") == "host" and name == "proxy":
            # The one way in from the network, behind a login for every request
            # (tests/security/test_server_host.py checks deploy/Caddyfile).
            assert "basic_auth" in (ROOT / "deploy" / "Caddyfile").read_text()
        elif service.get("network_mode") == "host":
            # Host networking publishes whatever the process binds: `provenance ui` binds
            # 127.0.0.1 only (provenance/serve.py).
            assert name == "ui"
            from provenance.serve import HARDENED

            assert HARDENED["server.address"] == "127.0.0.1"
    assert published >= 1


def test_database_takes_its_password_and_roles_from_secret_files():
    db = SERVICES["db"]
    env = db["environment"]
    assert "POSTGRES_PASSWORD" not in env
    assert env["POSTGRES_PASSWORD_FILE"] == _secret_path(db, "db_admin_password")
    assert "./deploy/postgres-init:/docker-entrypoint-initdb.d:ro" in db["volumes"]
    roles = (ROOT / "deploy" / "postgres-init" / "10-roles.sql").read_text()
    passwords = (ROOT / "deploy" / "postgres-init" / "20-passwords.sql").read_text()
    for role in APP_ROLES.values():
        assert f"'{role}'" in roles
        secret = f"db_{role.removeprefix('provenance_')}_password"
        assert f"cat {_secret_path(db, secret)}`" in passwords
        assert f"ALTER ROLE {role} PASSWORD" in passwords


@pytest.mark.parametrize("name", sorted(APP_ROLES))
def test_app_services_get_their_role_and_password_file(name, tmp_path):
    service = SERVICES[name]
    assert service["image"] == SERVICES["worker"]["image"]  # one image for all three
    assert service["build"] == "."
    env = service["environment"]
    password_file = env["PROVENANCE_DB_PASSWORD_FILE"]
    secret = password_file.removeprefix("/run/secrets/")
    assert password_file == _secret_path(service, secret)
    url = make_url(env["PROVENANCE_DB_URL"])
    assert url.username == APP_ROLES[name]
    assert url.database == SERVICES["db"]["environment"]["POSTGRES_DB"]
    assert secret == f"db_{APP_ROLES[name].removeprefix('provenance_')}_password"
    # The same environment, read by the code the services run, gives a working URL.
    fake = tmp_path / "secret"
    fake.write_text("s3cret\n")
    resolved = make_url(
        url_from_environment({**env, "PROVENANCE_DB_PASSWORD_FILE": str(fake)}, ROOT)
    )
    assert (resolved.username, resolved.password) == (APP_ROLES[name], "s3cret")
    assert env["PROVENANCE_DATA_DIR"] == "/data"


def test_migrations_run_once_before_worker_and_ui():
    migrate = SERVICES["migrate"]
    assert migrate["restart"] == "no"
    assert migrate["depends_on"]["db"]["condition"] == "service_healthy"
    script = ROOT / migrate["entrypoint"][0].removeprefix("/app/")
    assert os.access(script, os.X_OK)
    text = script.read_text()
    assert "provenance db upgrade" in text and '"$(dirname "$0")/grants.sql"' in text
    for name in ("worker", "ui"):
        needs = SERVICES[name]["depends_on"]
        assert needs["migrate"]["condition"] == "service_completed_successfully"
        assert needs["db"]["condition"] == "service_healthy"
    assert SERVICES["worker"]["command"][0] == "worker"
    assert SERVICES["ui"]["command"][0] == "ui"


@pytest.mark.parametrize("name", ["db", "worker", "ui"])
def test_long_running_services_have_healthchecks(name):
    check = SERVICES[name]["healthcheck"]
    assert check["test"][0] in ("CMD", "CMD-SHELL")
    assert {"interval", "timeout", "retries"} <= set(check)
    assert SERVICES[name]["restart"] == "unless-stopped"


def test_dockerfile_builds_the_services_image():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert 'ENTRYPOINT ["provenance"]' in dockerfile
    assert "COPY deploy deploy" in dockerfile  # migrate.sh and grants.sql
    assert "postgresql-client" in dockerfile  # psql for grants.sql
    assert re.search(r"^USER (?!root)\w+", dockerfile, re.MULTILINE)
    assert "-r requirements.txt" in dockerfile
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".venv", "secrets"} <= set(ignored)
    # Every package the project installs is in the image (the console script imports them).
    packages = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    for pattern in packages["packages"]["find"]["include"]:
        name = pattern.rstrip("*")
        assert f"COPY {name} {name}" in dockerfile, f"the image lacks the package {name}/"
