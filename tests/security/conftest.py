"""Shared pieces of the security tests (issue 18; docs/reliability.md, "Security").

PostgreSQL cases use the real local server (tests/conftest.py, PROVENANCE_TEST_PG_URL) with
the project's deploy roles and grants: they must run, so here an unreachable server fails the
test instead of skipping it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from db.schema import upgrade
from db.session import make_engine

ROOT = Path(__file__).resolve().parents[2]
ROLES_SQL = ROOT / "deploy" / "postgres-init" / "10-roles.sql"
GRANTS_SQL = ROOT / "deploy" / "grants.sql"


def run_sql_file(url: str, path: Path) -> None:
    """The file as one simple-protocol batch (no parameters), as psql -f would run it."""
    import psycopg

    conninfo = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(conninfo, autocommit=True) as connection:
        connection.execute(path.read_text().encode())


@pytest.fixture
def deployed_db(request: pytest.FixtureRequest) -> Iterator[str]:
    """A scratch database set up as docker-compose sets it up: roles, migrations, grants.
    Yields its name; `pg_database_url(name, role)` connects as a role."""
    try:
        admin: Engine = request.getfixturevalue("pg_admin")
    except pytest.skip.Exception as skipped:  # security tests against PostgreSQL never skip
        pytest.fail(f"PostgreSQL is required here: {skipped}")
    pg_database_url = request.getfixturevalue("pg_database_url")
    name = f"provenance_security_{uuid.uuid4().hex[:10]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        run_sql_file(pg_database_url(name, "postgres"), ROLES_SQL)
        owner = make_engine(pg_database_url(name, "provenance_owner"))
        upgrade(owner)
        owner.dispose()
        run_sql_file(pg_database_url(name, "provenance_owner"), GRANTS_SQL)
        yield name
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
