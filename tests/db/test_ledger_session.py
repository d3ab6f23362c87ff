"""Engines and sessions: URL selection, SQLite pragmas and locking, the transactional scope,
and no password in any repr, message or log line."""

from __future__ import annotations

import logging
import sqlite3

import pytest
from sqlalchemy import insert, select, text
from sqlalchemy.exc import IntegrityError

from db.models import Corpus, Document
from db.session import (
    default_url,
    make_engine,
    make_sessionmaker,
    safe_url,
    session_scope,
    url_from_environment,
    writer,
)

PASSWORD = "s3cr:et@p/w%d"


def test_default_url_is_sqlite_in_the_data_dir(tmp_path):
    assert default_url(tmp_path) == f"sqlite:///{tmp_path}/ledger.sqlite3"
    assert url_from_environment({}, tmp_path) == default_url(tmp_path)


def test_url_from_environment_reads_the_password_file(tmp_path):
    secret = tmp_path / "pw"
    secret.write_text(PASSWORD + "\n")
    env = {
        "PROVENANCE_DB_URL": "postgresql+psycopg://ledger@db.example:5432/provenance",
        "PROVENANCE_DB_PASSWORD_FILE": str(secret),
    }
    url = url_from_environment(env, tmp_path)
    engine = make_engine(url)  # lazy: connects on first use only
    assert engine.url.password == PASSWORD
    assert engine.url.username == "ledger" and engine.url.database == "provenance"
    assert PASSWORD not in repr(engine) and PASSWORD not in str(engine.url)
    assert PASSWORD not in safe_url(url)


def test_url_from_environment_errors_name_the_fix(tmp_path):
    with pytest.raises(ValueError, match="PROVENANCE_DB_URL is not"):
        url_from_environment({"PROVENANCE_DB_PASSWORD_FILE": "/x"}, tmp_path)
    both = {
        "PROVENANCE_DB_URL": f"postgresql+psycopg://u:{PASSWORD.replace('@', '%40')}@h/d",
        "PROVENANCE_DB_PASSWORD_FILE": str(tmp_path / "pw"),
    }
    with pytest.raises(ValueError, match="both") as info:
        url_from_environment(both, tmp_path)
    assert "s3cr" not in str(info.value)
    missing = {"PROVENANCE_DB_URL": "postgresql://u@h/d", "PROVENANCE_DB_PASSWORD_FILE": "/nope"}
    with pytest.raises(ValueError, match="cannot read the database password file /nope"):
        url_from_environment(missing, tmp_path)


def test_no_password_in_logs(tmp_path, caplog):
    secret = tmp_path / "pw"
    secret.write_text(PASSWORD)
    env = {
        "PROVENANCE_DB_URL": "postgresql://ledger@127.0.0.1:1/provenance",
        "PROVENANCE_DB_PASSWORD_FILE": str(secret),
    }
    with caplog.at_level(logging.DEBUG):
        engine = make_engine(url_from_environment(env, tmp_path))
    assert engine.url.drivername == "postgresql+psycopg"
    assert caplog.records, "make_engine should log which ledger it opened"
    assert all("s3cr" not in record.getMessage() for record in caplog.records)


def test_sqlite_pragmas(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'sub' / 'ledger.sqlite3'}")
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30_000


def test_sqlite_writers_take_the_lock_at_begin_and_readers_do_not(tmp_path):
    path = tmp_path / "ledger.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE t (x INTEGER)")
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    with writer(engine).connect() as connection, connection.begin():
        connection.exec_driver_sql("SELECT count(*) FROM t").scalar()  # no write yet
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            other.execute("BEGIN IMMEDIATE")
        assert other.execute("SELECT count(*) FROM t").fetchone() == (0,)  # WAL: reads go on
    with engine.connect() as reading, reading.begin():
        reading.exec_driver_sql("SELECT count(*) FROM t").scalar()
        other.execute("BEGIN IMMEDIATE")  # a read transaction does not hold the write lock
        other.execute("ROLLBACK")
    other.close()


def test_session_scope_commits_or_rolls_back(ledger):
    factory = make_sessionmaker(ledger, write=True)
    with session_scope(factory) as session:
        session.add(Corpus(sha256="a" * 64, path="a.jsonl", n_documents=0))
    with pytest.raises(RuntimeError), session_scope(factory) as session:
        session.add(Corpus(sha256="b" * 64, path="b.jsonl", n_documents=0))
        session.flush()
        raise RuntimeError("boom")
    with session_scope(make_sessionmaker(ledger)) as session:
        assert session.execute(select(Corpus.path)).scalars().all() == ["a.jsonl"]


def test_foreign_keys_are_enforced(ledger):
    with pytest.raises(IntegrityError), session_scope(make_sessionmaker(ledger, write=True)) as s:
        row = {"corpus_id": 999, "doc_key": "d", "text": "t", "sha256": "0" * 64}
        s.execute(insert(Document.__table__), [row])


def test_enum_columns_are_checked_by_the_database(ledger):
    with pytest.raises(IntegrityError), ledger.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO jobs (kind, status, payload, progress) "
                "VALUES ('train', 'bogus', '{}', 0)"
            )
        )
