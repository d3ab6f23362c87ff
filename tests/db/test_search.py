"""Document search and the document's own reads on SQLite and PostgreSQL: case-insensitive
matches by id, title or text, the user's LIKE wildcards matching only themselves, paging with
the total, refused queries, and when a run trained on a document."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.ledger_seed import document, seed_ledger
from db.catalog import TargetRecord, commit_step, corpus_runs, find_document, get_run
from db.listings import list_targets
from db.models import TargetOrigin
from db.search import MAX_QUERY_CHARS, BadQuery, like_pattern, search_documents
from db.session import make_sessionmaker, session_scope
from db.values import document_visits, trained_count, write_document_values, write_visits

DOCS = [
    document("alpha", "The Lamplighter counted forty-one lamps.", title="The Lamplighter's Ledger"),
    document("beta", "Salt road song, verse one.", title="Salt Road Song", source="press"),
    document("a_b", "underscore in the id", title="Fifty % off"),
    document("axb", "no underscore here", title="Plain"),
    document("html", "<script>alert(1)</script> and a back\\slash", title="<b>bold</b>"),
    *(document(f"para-{i:03d}", f"paragraph {i} of the union", title=None) for i in range(120)),
]


@pytest.fixture
def searchable(ledger):
    write = make_sessionmaker(ledger, write=True)
    order = seed_ledger(write, DOCS, [TargetRecord("t", "the target", TargetOrigin.UPLOADED)])
    return write, make_sessionmaker(ledger), order


def _keys(read, query: str, **options) -> list[str]:
    with session_scope(read) as session:
        return list(search_documents(session, query, **options).hits["doc_key"])


def test_id_title_and_text_match_ignoring_case_exact_id_first(searchable):
    _, read, _ = searchable
    assert _keys(read, "LAMPLIGHTER") == ["alpha"]  # title and text, once
    assert _keys(read, "salt road", field="title") == ["beta"]
    assert _keys(read, "salt road", field="id") == []
    assert _keys(read, "forty-one", field="text") == ["alpha"]
    assert _keys(read, "A_B")[0] == "a_b"  # the exact id comes first
    with session_scope(read) as session:
        hit = search_documents(session, "counted").hits.iloc[0]
    assert (hit["matched"], hit["corpus"]) == ("text", "/corpus.jsonl")
    assert "counted forty-one" in hit["excerpt"]


def test_wildcards_and_markup_match_only_themselves(searchable):
    _, read, _ = searchable
    assert _keys(read, "a_b", field="id") == ["a_b"]  # "_" is not "any character"
    assert _keys(read, "%", field="title") == ["a_b"]  # "%" is not "anything"
    assert _keys(read, "\\", field="text") == ["html"]
    assert _keys(read, "<script>") == ["html"]
    assert _keys(read, "' OR 1=1 --") == []  # a bound parameter, never SQL
    assert like_pattern("50%_\\") == "%50\\%\\_\\\\%"


def test_pages_carry_the_total(searchable):
    _, read, _ = searchable
    with session_scope(read) as session:
        first = search_documents(session, "paragraph", limit=50)
        last = search_documents(session, "paragraph", limit=50, offset=100)
    assert first.total == last.total == 120
    assert len(first.hits) == 50 and len(last.hits) == 20
    assert list(first.hits["doc_key"][:2]) == ["para-000", "para-001"]
    assert list(last.hits["doc_key"])[-1] == "para-119"


@pytest.mark.parametrize("query", ["", "   ", "x" * (MAX_QUERY_CHARS + 1), "a\x00b"])
def test_empty_long_or_binary_queries_are_refused_with_the_reason(searchable, query):
    _, read, _ = searchable
    with pytest.raises(BadQuery), session_scope(read) as session:
        search_documents(session, query)


def test_a_document_its_runs_and_the_steps_that_trained_on_it(searchable):
    write, read, order = searchable
    with session_scope(read) as session:
        corpus_id = get_run(session, "r1").corpus_id
        assert document_visits(session, "r1", "alpha") is None  # no visits recorded yet
        with pytest.raises(LookupError, match="no document 'nope'"):
            document_visits(session, "r1", "nope")
    with session_scope(write) as session:
        for step, rows in enumerate([[0, 1], [0, 0], [1, 2]]):
            ids = order[rows]
            write_visits(session, "r1", "t", step, ids, np.ones(len(ids)))
        commit_step(session, "r1", 3)
    with session_scope(read) as session:
        alpha = document_visits(session, "r1", "alpha")
        assert alpha is not None and (alpha.steps, alpha.rows) == ((0, 1), 3)
        never = document_visits(session, "r1", "para-000")
        assert never is not None and never.steps == () and never.rows == 0
        found = find_document(session, corpus_id, "beta")
        assert found is not None and (found.title, found.source) == ("Salt Road Song", "press")
        assert find_document(session, corpus_id, "nope") is None
        assert corpus_runs(session, corpus_id) == ["r1"]
        assert trained_count(session, "r1") == 0  # no value rows yet
    with session_scope(write) as session:
        write_document_values(session, "r1", "t", order[:3], np.ones(3), np.ones(3))
    with session_scope(read) as session:
        assert trained_count(session, "r1") == 3


def test_a_target_is_attributed_only_once_its_run_is_done(searchable):
    write, read, order = searchable
    with session_scope(write) as session:
        write_document_values(session, "r1", "t", order, np.ones(len(order)), np.ones(len(order)))
        commit_step(session, "r1", 2)  # values up to step 2 of 3: still running
    with session_scope(read) as session:
        listed = list_targets(session, "r1")
    assert (listed.iloc[0]["origin"], listed.iloc[0]["run_status"]) == ("uploaded", "running")
    assert not listed.iloc[0]["attributed"]
    with session_scope(write) as session:
        commit_step(session, "r1", 3, final_weights_sha256="3" * 64)
    with session_scope(read) as session:
        assert list_targets(session, "r1").iloc[0]["attributed"]
