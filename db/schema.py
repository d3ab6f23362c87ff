"""Schema versions: upgrade the ledger, and refuse to run on an out-of-date one.

The Alembic scripts live in `db/migrations/` next to this file and are found from this file's
location, so upgrading works from any working directory and from an installed package. No
alembic.ini is needed: the configuration is built here.

Checking a ledger's revision needs no Alembic (importing it costs about 0.4 s, most of a query
command's time): the revision is read with one SELECT and compared with HEAD_REVISION.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, inspect, text
from sqlalchemy.orm import Session, sessionmaker

from db.session import make_engine, make_sessionmaker, safe_url, writer

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# The newest migration's revision: the one the code needs. A new migration changes it in the
# same commit; tests/db/test_ledger_schema.py checks it against Alembic's own head.
HEAD_REVISION = "0006"
VERSION_TABLE = "alembic_version"  # Alembic's default, where it records the revision
_READ_VERSION = text("SELECT version_num FROM alembic_version")


class SchemaOutOfDate(RuntimeError):
    """The ledger's schema revision is not the one this code was written for."""

    def __init__(self, url: str, current: str | None, head: str) -> None:
        self.current = current
        self.head = head
        at = f"at revision {current}" if current else "empty (no schema revision)"
        super().__init__(
            f"the ledger at {url} is {at}, the code needs {head}; run `provenance db upgrade`"
        )


def alembic_config() -> Config:
    """An Alembic Config pointing at the package's migrations, whatever the cwd."""
    from alembic.config import Config

    config = Config()
    # ConfigParser interpolation would read a '%' in the path as a placeholder.
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    return config


def alembic_head() -> str:
    """The newest revision among the migration scripts, as Alembic finds it."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, f"no migrations found in {MIGRATIONS_DIR}"
    return head


def current_revision(engine: Engine) -> str | None:
    """The ledger's revision, or None for a database that has never been upgraded."""
    with engine.connect() as connection:
        if not inspect(connection).has_table(VERSION_TABLE):
            return None
        revisions = connection.execute(_READ_VERSION)
        found = [row[0] for row in revisions]
    if len(found) > 1:  # branched migrations: this project keeps one line
        raise SchemaOutOfDate(safe_url(engine.url), ", ".join(sorted(found)), HEAD_REVISION)
    return found[0] if found else None


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the ledger to `revision` in one transaction (DDL is transactional on both backends)."""
    from alembic import command

    config = alembic_config()
    with writer(engine).begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def check_schema(engine: Engine) -> None:
    """Raise SchemaOutOfDate unless the ledger is at the head revision."""
    current = current_revision(engine)
    if current != HEAD_REVISION:
        raise SchemaOutOfDate(safe_url(engine.url), current, HEAD_REVISION)


def open_ledger(url: str, *, write: bool = True) -> sessionmaker[Session]:
    """A session factory on the ledger at `url`, ready for use.

    A new, empty database (a SQLite file that does not exist yet included) gets the schema; an
    existing one must be at the code's revision, else SchemaOutOfDate tells the user to run
    `provenance db upgrade`: a ledger is never migrated behind its owner's back.
    """
    engine = make_engine(url)
    if current_revision(engine) is None:
        upgrade(engine)
    check_schema(engine)
    return make_sessionmaker(engine, write=write)
