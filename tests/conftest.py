"""Suite-wide settings and fixtures.

One CPU thread (tiny tensors; faster and reduction order fixed). `ledger` / `empty_url`: every
test that takes them runs on SQLite and on PostgreSQL. PostgreSQL is the local server
(PROVENANCE_TEST_PG_URL, default postgres@127.0.0.1:5432, trust auth); where it is unreachable
its cases skip with the reason, except under CI=true, where they fail. A scratch database per
test is created through the `postgres` maintenance database (~0.1 s) and dropped afterwards.
"""

import os
import uuid
from collections.abc import Callable, Iterator

import pytest
import torch
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import OperationalError

from db.schema import upgrade
from db.session import make_engine

torch.set_num_threads(1)

PG_ADMIN_URL = os.environ.get(
    "PROVENANCE_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


@pytest.fixture(scope="session")
def pg_admin() -> Iterator[Engine]:
    """An AUTOCOMMIT engine on the maintenance database."""
    engine = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT", hide_parameters=True)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except OperationalError as err:
        engine.dispose()
        reason = f"PostgreSQL unreachable at {PG_ADMIN_URL.split('@')[-1]}: {err.orig}"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason} (CI=true: the PostgreSQL tests must run)")
        pytest.skip(reason)
    yield engine
    engine.dispose()


def _database_url(database: str, role: str | None = None) -> str:
    scheme, rest = PG_ADMIN_URL.rsplit("/", 1)[0].split("://", 1)
    user, host = rest.split("@", 1)
    return f"{scheme}://{role or user}@{host}/{database}"


@pytest.fixture(scope="session")
def pg_database_url(pg_admin: Engine) -> Callable[..., str]:
    """database, role=None -> the URL of that database on the test server (as the admin user,
    or as `role`)."""
    return _database_url


@pytest.fixture
def fresh_pg_url(pg_admin: Engine) -> Iterator[str]:
    """A new, empty database, dropped afterwards."""
    name = f"provenance_test_{uuid.uuid4().hex[:12]}"
    with pg_admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield _database_url(name)
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
