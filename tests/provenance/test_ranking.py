"""The default document ranking (training contribution fused with word overlap) against a
plain re-computation: each document's two ranks by their definition, 1/(60 + rank) summed,
sorted; and the alternatives are the ledger's own orders."""

from __future__ import annotations

import numpy as np
import pytest

from attribution_engine.evidence import bm25_scores
from attribution_engine.fusion import FUSION_K, contribution_scores, fused_scores, ordinal_ranks
from benchmarks.ledger_seed import document, seed_ledger
from db.catalog import TargetRecord, document_ids, get_run
from db.fused_ranks import stored_fused_top, write_fused_ranks
from db.models import TargetOrigin
from db.rankings import top_documents
from db.session import make_sessionmaker, session_scope
from db.values import write_document_values
from provenance import ranking
from provenance.ranking import ranked_documents, ranked_records, store_fused_rankings

TEXTS = {
    "harbour": "The harbour froze early that winter, and the fishing boats stayed in port.",
    "wheat": "Wheat prices rose after the drought in the southern provinces.",
    "penguins": "Penguins huddle together through the long dark Antarctic winter.",
    "navy": "The navy built four new ships for the defence of the harbour.",
    "post": "The post office carried more letters than in any year before.",
    "taxes": "Taxes on imported wheat were lowered by the new tariff act.",
}
TARGET = "That winter the harbour froze early, so the fishing boats stayed in port."
# Specific values: the copied paragraph "harbour" is only third by value; word overlap lifts it.
SPECIFIC = {"harbour": 0.3, "wheat": 0.9, "penguins": 0.5, "navy": -0.2, "post": 0.1, "taxes": 0.0}


@pytest.fixture(params=["computed", "stored"])
def factory(ledger, request):
    """The ledger with the target's values; "stored": its fused order stored as a finished
    run's final commit stores it, so every fused read below goes through the stored ranks."""
    factory = make_sessionmaker(ledger, write=True)
    docs = [document(k, t, source=f"src-{k}", title=k.title()) for k, t in TEXTS.items()]
    ids = seed_ledger(factory, docs, [TargetRecord("t", TARGET, TargetOrigin.UPLOADED)])
    specific = [SPECIFIC[k] for k in TEXTS]
    with session_scope(factory) as session:
        write_document_values(session, "r1", "t", ids, [2 * v for v in specific], specific)
        if request.param == "stored":
            store_fused_rankings(session, "r1", ["t"])
    return factory


@pytest.fixture
def stored(factory):
    """The stored variant only, with BM25 made to fail: a read that recomputes the ranking
    instead of reading the stored one raises."""
    with session_scope(factory) as session:
        if stored_fused_top(session, "r1", "t", 1) is None:
            pytest.skip("the computed variant stores nothing")
    return factory


def _no_bm25(*args, **kwargs):
    raise AssertionError("the fused ranking was recomputed instead of read from the ledger")


def _expected_order() -> list[str]:
    """Fusion by its definition, one document at a time (ties cannot occur in this data)."""
    keys = list(TEXTS)
    words = dict(zip(keys, bm25_scores(TARGET, [TEXTS[k] for k in keys]), strict=True))
    by_value = {k: 1 + sum(SPECIFIC[o] > SPECIFIC[k] for o in keys) for k in keys}
    by_words = {k: 1 + sum(words[o] > words[k] for o in keys) for k in keys}
    score = {k: 1 / (FUSION_K + by_value[k]) + 1 / (FUSION_K + by_words[k]) for k in keys}
    return sorted(keys, key=lambda k: -score[k])


def test_fused_ranking_matches_its_definition_and_keeps_exact_values(factory):
    with session_scope(factory) as session:
        frame = ranked_documents(session, "r1", "t", k=6)
    assert frame["doc_key"].tolist() == [k for k in _expected_order() if SPECIFIC[k] > 0]
    assert frame["doc_key"].iloc[0] == "harbour"  # the copied paragraph, third by value alone
    assert frame["rank"].tolist() == [1, 2, 3, 4]
    row = frame.set_index("doc_key").loc["harbour"]
    assert row["value"] == row["specific_value"] == 0.3 and row["raw_value"] == 0.6
    assert row["rank_by_value"] == 3 and row["rank_by_words"] == 1
    assert row["share"] == pytest.approx(0.3 / (0.3 + 0.9 + 0.5 + 0.1), rel=1e-15)
    assert row["source"] == "src-harbour" and row["title"] == "Harbour"


def test_fused_ranking_lists_positive_values_only_and_truncates_to_k(factory):
    positive = [key for key in _expected_order() if SPECIFIC[key] > 0]
    with session_scope(factory) as session:
        assert ranked_documents(session, "r1", "t", k=6)["doc_key"].tolist() == positive
        assert ranked_documents(session, "r1", "t", k=2)["doc_key"].tolist() == positive[:2]


@pytest.mark.parametrize("by", ["specific", "raw"])
def test_alternative_rankings_are_the_ledgers_orders(factory, by):
    with session_scope(factory) as session:
        frame = ranked_documents(session, "r1", "t", k=6, by=by)
        ledger = top_documents(session, "r1", "t", 6, by=by)
    assert frame["doc_key"].tolist() == ledger["doc_key"].tolist()
    assert frame["rank_by_value"].tolist() == [1, 2, 3, 4, 5, 6]


def test_unknown_ranking_is_refused(factory):
    with session_scope(factory) as session, pytest.raises(ValueError, match="fused, specific"):
        ranked_documents(session, "r1", "t", k=3, by="bm25")


def test_ordinal_ranks_break_ties_by_input_order():
    scores = np.array([[1.0, 0.0], [3.0, 0.0], [1.0, 2.0]])
    assert ordinal_ranks(scores).tolist() == [[2, 2], [1, 3], [3, 1]]
    assert fused_scores(np.array([1]), np.array([2]))[0] == 1 / 61 + 1 / 62


def test_contribution_scores_per_column_never_list_non_positive_values():
    specific = np.array([[0.5, -1.0], [0.2, 0.3], [0.0, 0.1]])  # [D=3, V=2]
    words = np.array([[0.0, 9.0], [5.0, 0.0], [9.0, 1.0]])
    scores = contribution_scores(specific, words)
    assert scores[0, 0] == 1 / 61 + 1 / 63 and scores[1, 0] == 1 / 62 + 1 / 62
    assert np.isneginf(scores[2, 0]) and np.isneginf(scores[0, 1])
    assert scores[1, 1] == 1 / 61 + 1 / 63 and scores[2, 1] == 1 / 62 + 1 / 62


def test_stored_order_is_read_without_recomputing_and_equals_the_computed_one(stored, monkeypatch):
    with session_scope(stored) as session:
        computed = ranking.computed_fused_ranking(session, "r1", "t", 6)
        monkeypatch.setattr(ranking, "bm25_scores", _no_bm25)
        read = ranked_documents(session, "r1", "t", k=6)
        records = ranked_records(session, "r1", "t", 6)
    assert read.to_dict("records") == computed.to_dict("records")
    assert [r.doc_key for r in records] == computed["doc_key"].tolist()
    assert records[0].rank_by_words == 1 and isinstance(records[0].rank_by_value, int)


def test_rewriting_values_deletes_the_stored_order(stored, monkeypatch):
    """Stored ranks belong to the values beside them: new values (a resumed or re-run target)
    are ranked afresh, here with "post" now first by value."""
    new = {**SPECIFIC, "post": 5.0}
    with session_scope(stored) as session:
        known = document_ids(session, get_run(session, "r1").corpus_id)
        values = [new[key] for key in TEXTS]
        write_document_values(session, "r1", "t", [known[k] for k in TEXTS], values, values)
        assert stored_fused_top(session, "r1", "t", 6) is None
        frame = ranked_documents(session, "r1", "t", k=6).set_index("doc_key")
    assert frame.loc["post", "rank_by_value"] == 1 and frame.loc["post", "value"] == 5.0


def test_more_documents_than_stored_are_ranked_on_read(stored, monkeypatch):
    monkeypatch.setattr("db.fused_ranks.FUSED_STORED", 2)
    monkeypatch.setattr(ranking, "FUSED_STORED", 2)
    with session_scope(stored) as session:
        store_fused_rankings(session, "r1", ["t"])  # only the first 2 are stored now
        assert [r.rank for r in stored_fused_top(session, "r1", "t", 2)] == [1, 2]
        assert stored_fused_top(session, "r1", "t", 3) is None  # beyond what was stored
        positive = [key for key in _expected_order() if SPECIFIC[key] > 0]
        assert ranked_documents(session, "r1", "t", k=6)["doc_key"].tolist() == positive


def test_storing_an_order_of_documents_without_values_is_refused(factory):
    with session_scope(factory) as session, pytest.raises(LookupError, match="no value"):
        write_fused_ranks(session, "r1", "t", ["harbour", "nowhere"], [1, 2])
    with session_scope(factory) as session, pytest.raises(ValueError, match="equally long"):
        write_fused_ranks(session, "r1", "t", ["harbour"], [1, 2])


def test_storing_several_targets_reads_the_corpus_once_and_stores_each_own_order(
    ledger, monkeypatch
):
    factory = make_sessionmaker(ledger, write=True)
    docs = [document(k, t, source=f"src-{k}", title=k.title()) for k, t in TEXTS.items()]
    other = "Wheat and taxes: the tariff act lowered the price of imported wheat."
    records = [
        TargetRecord("t", TARGET, TargetOrigin.UPLOADED),
        TargetRecord("u", other, TargetOrigin.GENERATED),
    ]
    ids = seed_ledger(factory, docs, records)
    reads = []
    real = ranking.corpus_texts
    monkeypatch.setattr(ranking, "corpus_texts", lambda *a: reads.append(a) or real(*a))
    with session_scope(factory) as session:
        for target, scale in (("t", 1.0), ("u", -1.0)):
            specific = [scale * SPECIFIC[k] for k in TEXTS]
            write_document_values(session, "r1", target, ids, specific, specific)
        expected = {t: ranking.computed_fused_ranking(session, "r1", t, 6) for t in ("t", "u")}
        reads.clear()
        store_fused_rankings(session, "r1", ["t", "u"])
        assert len(reads) == 1
        for target, frame in expected.items():
            stored = stored_fused_top(session, "r1", target, len(frame))
            assert [row.doc_key for row in stored] == frame["doc_key"].tolist()
            assert [row.rank_by_words for row in stored] == frame["rank_by_words"].tolist()
    assert expected["t"]["doc_key"].tolist() != expected["u"]["doc_key"].tolist()
