"""Migrations: upgrade an empty database, no drift between models and migrations, and a clear
refusal of an empty or old schema."""

from __future__ import annotations

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, make_url, select, text
from sqlalchemy.exc import InvalidRequestError

from db.models import Base, Corpus
from db.schema import (
    HEAD_REVISION,
    SchemaOutOfDate,
    alembic_config,
    alembic_head,
    check_schema,
    current_revision,
    upgrade,
)
from db.session import make_engine, make_sessionmaker, session_scope


def test_the_revision_the_code_needs_is_alembics_head():
    # a new migration must move HEAD_REVISION in the same commit, or every ledger it upgrades
    # is refused as out of date
    assert alembic_head() == HEAD_REVISION


def test_a_branched_version_table_is_refused(empty_engine):
    upgrade(empty_engine)
    with empty_engine.begin() as connection:
        connection.execute(text("INSERT INTO alembic_version (version_num) VALUES ('0003b')"))
    with pytest.raises(SchemaOutOfDate, match="0003b"):
        check_schema(empty_engine)


def test_upgrade_an_empty_database_from_any_directory(empty_engine, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert current_revision(empty_engine) is None
    upgrade(empty_engine)
    assert current_revision(empty_engine) == HEAD_REVISION
    check_schema(empty_engine)
    tables = set(inspect(empty_engine).get_table_names())
    assert set(Base.metadata.tables) <= tables


def test_models_and_migrations_have_no_drift(ledger):
    with ledger.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def test_downgrade_to_base_and_back(ledger):
    config = alembic_config()
    with ledger.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "base")
    assert set(inspect(ledger).get_table_names()) <= {"alembic_version"}
    upgrade(ledger)
    check_schema(ledger)


def test_check_schema_refuses_an_empty_database(empty_url):
    url = make_url(empty_url)
    if url.get_backend_name() == "postgresql":
        url = url.set(password="hunter2-secret")  # trust auth ignores it; it must not leak
    engine = make_engine(url)
    with pytest.raises(SchemaOutOfDate) as info:
        check_schema(engine)
    message = str(info.value)
    assert "is empty (no schema revision)" in message
    assert f"the code needs {HEAD_REVISION}" in message
    assert "run `provenance db upgrade`" in message
    assert "hunter2" not in message
    engine.dispose()


def test_check_schema_refuses_an_old_revision(ledger):
    with ledger.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0000old'"))
    needs = f"is at revision 0000old, the code needs {HEAD_REVISION}"
    with pytest.raises(SchemaOutOfDate, match=needs):
        check_schema(ledger)


def test_relationships_raise_instead_of_lazy_loading(ledger):
    with session_scope(make_sessionmaker(ledger, write=True)) as session:
        session.add(Corpus(sha256="c" * 64, path="c.jsonl", n_documents=0))
    with session_scope(make_sessionmaker(ledger)) as session:
        corpus = session.execute(select(Corpus)).scalar_one()
        with pytest.raises(InvalidRequestError, match="lazy='raise'"):
            _ = corpus.documents
