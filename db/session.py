"""Engines and sessions for the ledger: SQLite (the default, one file) or PostgreSQL (teams).

SQLite is set up for one writer and many readers: WAL journal (readers never block the writer
nor each other), synchronous=FULL (a commit is on disk when it returns), a 30 s busy timeout
(a second writer waits instead of failing), foreign keys on, and write sessions that start
with BEGIN IMMEDIATE. Taking the write lock at BEGIN rather than at the first INSERT is what
makes the busy timeout effective: a deferred transaction that tries to upgrade from reading to
writing while another connection writes fails at once with "database is locked", whatever the
timeout. Read sessions keep plain (deferred) BEGIN so they never queue behind the writer.

PostgreSQL goes through psycopg 3 (`postgresql+psycopg://`). Parameters are hidden from error
messages and logs (`hide_parameters=True`), and URLs are only ever rendered with the password
masked.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import URL, Engine, create_engine, event, make_url
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger(__name__)

SQLITE_BUSY_TIMEOUT_MS = 30_000  # a writer waits this long for another writer before failing
WRITE_OPTION = "ledger_write"  # execution option: this connection's transactions write

ENV_URL = "PROVENANCE_DB_URL"
ENV_PASSWORD_FILE = "PROVENANCE_DB_PASSWORD_FILE"


def default_url(data_dir: Path) -> str:
    """The SQLite ledger inside the data directory."""
    return f"sqlite:///{Path(data_dir) / 'ledger.sqlite3'}"


def url_from_environment(env: Mapping[str, str], data_dir: Path) -> str:
    """The ledger URL chosen by the environment; the only place that reads it.

    `PROVENANCE_DB_URL` names the database (default: SQLite in `data_dir`).
    `PROVENANCE_DB_PASSWORD_FILE` names a file holding the password (e.g. a Docker secret); it
    is used with a `PROVENANCE_DB_URL` that carries no password. The result contains the
    password: pass it to `make_engine`, never print it (use `safe_url`).
    """
    url_text = env.get(ENV_URL, "").strip()
    password_file = env.get(ENV_PASSWORD_FILE, "").strip()
    if not url_text:
        if password_file:
            raise ValueError(
                f"{ENV_PASSWORD_FILE} is set but {ENV_URL} is not: the password file needs a "
                "database URL without a password, e.g. "
                f"{ENV_URL}=postgresql+psycopg://provenance@127.0.0.1:5432/provenance"
            )
        return default_url(data_dir)
    url = make_url(url_text)
    if password_file:
        if url.password is not None:
            raise ValueError(
                f"both {ENV_URL} and {ENV_PASSWORD_FILE} give a password; remove the password "
                f"from {ENV_URL} ({safe_url(url)})"
            )
        path = Path(password_file)
        try:
            password = path.read_text().rstrip("\r\n")
        except OSError as err:
            raise ValueError(
                f"cannot read the database password file {path} named by {ENV_PASSWORD_FILE}: "
                f"{err.strerror}"
            ) from None
        url = url.set(password=password)
    return url.render_as_string(hide_password=False)


def safe_url(url: str | URL) -> str:
    """The URL with its password masked: the only form that may be printed or logged."""
    return make_url(url).render_as_string(hide_password=True)


def make_engine(url: str | URL) -> Engine:
    """An engine for the ledger at `url` (SQLite file or PostgreSQL), configured as above."""
    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")  # the driver we ship
    # sqlite3's own `timeout` sets the busy timeout (a PRAGMA value cannot be a bound parameter).
    sqlite = parsed.get_backend_name() == "sqlite"
    connect_args = {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000} if sqlite else {}
    engine = create_engine(
        parsed, hide_parameters=True, pool_pre_ping=True, connect_args=connect_args
    )
    if engine.dialect.name == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        _configure_sqlite(engine)
    log.info("ledger engine for %s", safe_url(parsed))
    return engine


def _configure_sqlite(engine: Engine) -> None:
    # The documented pysqlite recipe: take transaction control away from the driver (which
    # otherwise delays BEGIN until the first write) and emit BEGIN ourselves.
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        # Takes effect only while the file is still empty (a no-op afterwards). 16 KiB pages
        # made the million-row value write 20% faster than 4 KiB ones (db/README.md).
        cursor.execute("PRAGMA page_size=16384")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        # FULL: every commit fsyncs the WAL before it returns, so a committed ledger step
        # survives a power loss or an OS crash, not only a killed process. NORMAL (the WAL
        # default) skipped that fsync and could lose the last commits on power loss, which
        # kill -9 tests cannot see. Commits are one per checkpoint, so the cost is small.
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection) -> None:
        write = connection.get_execution_options().get(WRITE_OPTION, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def writer(engine: Engine) -> Engine:
    """The same engine whose transactions take the write lock at BEGIN (SQLite).

    On PostgreSQL the option is inert; row locks and MVCC do the work.
    """
    return engine.execution_options(**{WRITE_OPTION: True})


def make_sessionmaker(engine: Engine, *, write: bool = False) -> sessionmaker[Session]:
    """Sessions on `engine`; `write=True` for sessions that insert or update."""
    bind = writer(engine) if write else engine
    return sessionmaker(bind=bind, expire_on_commit=False)


def read_only(factory: sessionmaker[Session]) -> sessionmaker[Session]:
    """Sessions on the same database as `factory` whose transactions take no write lock: for
    long reads and computations that a writer (a training run's commits) must not wait on."""
    engine = factory.kw["bind"].execution_options(**{WRITE_OPTION: False})
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One transaction: commit on success, roll back on any error, always close."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
