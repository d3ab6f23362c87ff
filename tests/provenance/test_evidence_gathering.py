"""The evidence and embedding-cache tables on SQLite and PostgreSQL: rows replace, reads keep
to one parameter version, vectors round-trip bit for bit, and `ensure_evidence` computes each
pair once."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest

from attribution_engine.evidence import Thresholds
from benchmarks.ledger_seed import document, seed_ledger
from db.catalog import TargetRecord
from db.evidence import (
    EvidenceRecord,
    evidence_frame,
    lookup_embeddings,
    read_evidence,
    store_embeddings,
    write_evidence,
)
from db.models import TargetOrigin
from db.session import make_sessionmaker, session_scope
from provenance import evidence as gather
from provenance.evidence import ensure_evidence, evidence_version, fill_evidence

TEXTS = {
    "a": "The harbour froze early that winter, and the fishing boats stayed in port.",
    "b": "Wheat prices rose after the drought in the southern provinces.",
    "c": "Penguins huddle together through the long dark Antarctic winter.",
}
TARGET = "That winter the harbour froze early, so the fishing boats stayed in port."


@pytest.fixture
def factory(ledger):
    factory = make_sessionmaker(ledger, write=True)
    docs = [document(k, t) for k, t in TEXTS.items()]
    targets = [TargetRecord("t", TARGET, TargetOrigin.UPLOADED)]
    seed_ledger(factory, docs, targets, run_key="run", corpus_sha256="c" * 64)
    return factory


def _record(doc_key: str, label: str, similarity: float) -> EvidenceRecord:
    return EvidenceRecord(doc_key, label, 3, 0, 10, 5, 15, 0.25, similarity, 1.5, {"target": []})


def test_evidence_rows_are_kept_within_a_version_and_reads_keep_to_their_version(factory):
    with session_scope(factory) as session:
        write_evidence(session, "run", "t", "v1", [_record("a", "verbatim", 0.9 + 2**-40)])
        # Same version: the stored row stays (evidence is deterministic; nothing rewrites it).
        write_evidence(session, "run", "t", "v1", [_record("a", "diffuse", 0.1)])
        write_evidence(session, "run", "t", "v2", [_record("b", "paraphrase", 0.7)])
    with session_scope(factory) as session:
        v1 = read_evidence(session, "run", "t", "v1")
        assert list(v1) == ["a"] and v1["a"] == _record("a", "verbatim", 0.9 + 2**-40)
        assert list(read_evidence(session, "run", "t", "v2")) == ["b"]
        assert evidence_frame(session, "run", "t", "v2")["label"].tolist() == ["paraphrase"]
        with pytest.raises(LookupError, match="not in the run's corpus"):
            write_evidence(session, "run", "t", "v1", [_record("zz", "diffuse", 0.0)])
    with session_scope(factory) as session:  # another version replaces the pair
        write_evidence(session, "run", "t", "v2", [_record("a", "diffuse", 0.1)])
    with session_scope(factory) as session:
        assert read_evidence(session, "run", "t", "v1") == {}
        assert read_evidence(session, "run", "t", "v2")["a"] == _record("a", "diffuse", 0.1)


def test_embeddings_round_trip_bit_for_bit(factory):
    vectors = {"k1": np.random.default_rng(0).standard_normal(384).astype(np.float32)}
    with session_scope(factory) as session:
        store_embeddings(session, "model", vectors)
        store_embeddings(session, "model", vectors)  # known keys are left alone
    with session_scope(factory) as session:
        found = lookup_embeddings(session, "model", ["k1", "k2"])
        assert list(found) == ["k1"]
        np.testing.assert_array_equal(found["k1"], vectors["k1"])
        assert lookup_embeddings(session, "other model", ["k1"]) == {}


def test_ensure_evidence_computes_each_pair_once(factory):
    with session_scope(factory) as session:
        first = ensure_evidence(session, "run", "t", ["a", "c"])
    assert first["a"].label == "paraphrase" and first["c"].label == "diffuse"
    assert first["a"].bm25 > first["c"].bm25 > 0  # "c" shares only "winter"
    with session_scope(factory) as session:
        again = ensure_evidence(session, "run", "t", ["c", "a"], compute=False)
        assert again == first and list(again) == ["c", "a"]
        strict = Thresholds(paraphrase_min_similarity=0.99)
        assert evidence_version(strict) != evidence_version()
        assert ensure_evidence(session, "run", "t", ["a"], compute=False, thresholds=strict) == {}
        recomputed = ensure_evidence(session, "run", "t", ["a"], thresholds=strict)
        assert recomputed["a"].label == "diffuse"


def test_fill_evidence_lets_other_writers_commit_while_it_computes(factory, monkeypatch):
    """Evidence is computed in a read transaction (the embedding model loads for seconds) and
    stored in a short write one: while it computes, another process takes SQLite's write lock
    at once, as a training run's ledger commit must. Before, the computation ran inside the
    write transaction and that writer waited out its busy timeout."""
    engine = factory.kw["bind"]
    took_lock = []
    real = gather.evidence

    def evidence_while_another_writer_commits(*args, **kwargs):
        if engine.dialect.name == "sqlite" and not took_lock:
            other = sqlite3.connect(engine.url.database, timeout=0.2, isolation_level=None)
            try:
                other.execute("BEGIN IMMEDIATE")  # "database is locked" if the lock is held
                other.execute("COMMIT")
                took_lock.append(True)
            finally:
                other.close()
        return real(*args, **kwargs)

    monkeypatch.setattr(gather, "evidence", evidence_while_another_writer_commits)
    assert fill_evidence(factory, "run", "t", ["a", "c", "a"]) == 2
    assert took_lock == ([True] if engine.dialect.name == "sqlite" else [])
    with session_scope(factory) as session:
        stored = ensure_evidence(session, "run", "t", ["a", "c"], compute=False)
    assert stored["a"].label == "paraphrase" and stored["c"].label == "diffuse"
    assert fill_evidence(factory, "run", "t", ["a"]) == 1  # nothing left to compute
