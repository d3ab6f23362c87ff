"""Ledger fixtures: every test that takes `ledger_url` runs on SQLite and on PostgreSQL.

PostgreSQL: a uniquely named database is created through the `postgres` maintenance database
for each test and dropped afterwards (CREATE DATABASE takes ~0.1 s). Where PostgreSQL is
unreachable the PostgreSQL cases skip with the reason, except under CI=true, where they fail.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import OperationalError

from db.schema import upgrade
from db.session import make_engine

PG_ADMIN_URL = os.environ.get(
    "PROVENANCE_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


def _admin_engine() -> Engine:
    engine = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT", hide_parameters=True)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except OperationalError as err:
        engine.dispose()
        reason = f"PostgreSQL unreachable at {PG_ADMIN_URL.split('@')[-1]}: {err.orig}"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason} (CI=true: the ledger tests must run on PostgreSQL)")
        pytest.skip(reason)
    return engine


@pytest.fixture(scope="session")
def pg_admin() -> Iterator[Engine]:
    engine = _admin_engine()
    yield engine
    engine.dispose()


@pytest.fixture
def fresh_pg_url(pg_admin: Engine) -> Iterator[str]:
    name = f"provenance_test_{uuid.uuid4().hex[:12]}"
    with pg_admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with pg_admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request: pytest.FixtureRequest, tmp_path) -> str:
    """The URL of an empty database (no tables) of each kind."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
    return request.getfixturevalue("fresh_pg_url")


@pytest.fixture
def empty_engine(empty_url: str) -> Iterator[Engine]:
    engine = make_engine(empty_url)
    yield engine
    engine.dispose()


@pytest.fixture
def ledger(empty_engine: Engine) -> Engine:
    """An engine on a ledger upgraded to the head revision."""
    upgrade(empty_engine)
    return empty_engine
