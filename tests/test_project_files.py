"""The repository's own promises: one pinned install file, CI runs the README's test command,
and the compose file keeps the database on loopback with its password in a secret file."""

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def test_ci_runs_exactly_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    commands = re.findall(r"^\s*(make \w+)\s*$", readme, flags=re.MULTILINE)
    assert commands[:2] == ["make demo", "make test"]
    ci_lines = [
        line.strip()
        for line in (ROOT / ".ci" / "run").read_text().splitlines()
        if re.search(r"\b(make|pytest)\b", line) and not line.lstrip().startswith("#")
    ]
    assert ci_lines == ["make test"]


def test_every_requirement_is_pinned_torch_included():
    lines = [
        line.split("#")[0].strip()
        for line in (ROOT / "requirements.txt").read_text().splitlines()
        if line.split("#")[0].strip()
    ]
    assert all(re.fullmatch(r"[A-Za-z0-9_.\-]+==[\w.]+", line) for line in lines), lines
    assert "torch==2.13.0" in lines


def test_compose_database_is_loopback_only_with_a_secret_password():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    db = compose["services"]["db"]
    assert all(port.startswith("127.0.0.1:") for port in db["ports"])
    assert db["environment"]["POSTGRES_PASSWORD_FILE"].startswith("/run/secrets/")
    assert "POSTGRES_PASSWORD" not in db["environment"]
    assert set(db["secrets"]) <= set(compose["secrets"])
    assert "healthcheck" in db
