"""Item 4 of issue 18, against the real PostgreSQL with the deploy roles and grants: the UI's
role may add evidence (what its pages compute) but never delete or change a row, so it cannot
relabel a document "verbatim" for a report; nor can it change the queue's rows."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import ProgrammingError

from benchmarks.ledger_seed import document, seed_ledger
from db.catalog import TargetRecord
from db.evidence import EvidenceRecord, read_evidence, write_evidence
from db.models import TargetOrigin
from db.session import make_engine, make_sessionmaker, session_scope

INSUFFICIENT_PRIVILEGE = "42501"


@pytest.mark.parametrize(
    "statement",
    [
        "DELETE FROM evidence",
        "UPDATE evidence SET label = 'verbatim'",
        "TRUNCATE evidence",
        "DELETE FROM embeddings",
        "UPDATE embeddings SET vector = NULL",
        "DELETE FROM reports",
        "UPDATE jobs SET payload = '{}'",
        "DELETE FROM jobs",
    ],
)
def test_ui_role_cannot_delete_or_rewrite_evidence(deployed_db, pg_database_url, statement):
    engine = create_engine(pg_database_url(deployed_db, "provenance_ui"))
    try:
        with pytest.raises(ProgrammingError) as caught, engine.begin() as connection:
            connection.execute(text(statement))
    finally:
        engine.dispose()
    assert caught.value.orig.sqlstate == INSUFFICIENT_PRIVILEGE, statement


def test_ui_role_still_adds_missing_evidence(deployed_db, pg_database_url):
    """What the UI needs keeps working: write_evidence inserts missing pairs without DELETE."""
    writer = make_engine(pg_database_url(deployed_db, "provenance_writer"))
    seed_ledger(
        make_sessionmaker(writer, write=True),
        [document("d1", "some text"), document("d2", "more text")],
        [TargetRecord("t1", "a target", TargetOrigin.FILE)],
        run_key="run-1",
        steps=1,
        corpus_sha256="c" * 64,
        corpus_path="/data/c.jsonl",
    )
    writer.dispose()
    ui = make_engine(pg_database_url(deployed_db, "provenance_ui"))
    record = EvidenceRecord("d1", "diffuse", 0, None, None, None, None, 0.0, 0.1, 0.2, {})
    factory = make_sessionmaker(ui, write=True)
    for _ in range(2):  # the second call finds the pair stored: nothing to write, no DELETE
        with session_scope(factory) as session:
            write_evidence(session, "run-1", "t1", "v1", [record])
    with session_scope(make_sessionmaker(ui)) as session:
        assert set(read_evidence(session, "run-1", "t1", "v1")) == {"d1"}
    ui.dispose()
