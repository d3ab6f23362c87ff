"""The demo's copyright story holds: a model that reproduces a registered work has that work
ranked first by the default ranking, and an interrupted demo resumes instead of leaving a
half-written run behind."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from attribution_engine import faults
from attribution_engine.targets import TargetText
from db.listings import list_runs
from db.schema import open_ledger
from db.session import session_scope
from provenance import demo
from provenance.demo_corpus import REGISTERED_WORKS, is_work
from provenance.ranking import ranked_documents

LAMPLIGHTER = REGISTERED_WORKS[0]


@pytest.mark.slow
def test_the_reproduced_work_ranks_first_for_the_reproduction(tmp_path):
    """A shortened regime (10 SOTU paragraphs beside the works, 12 epochs)."""
    url = f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
    summary = demo.run(tmp_path, url, paragraphs=10, epochs=12, say=lambda _: None)
    with session_scope(open_ledger(url, write=False)) as session:
        runs = list_runs(session)
        replay = runs["run_key"][runs["kind"] == "attribute"].item()
        top = ranked_documents(session, replay, "gen-0", 3)
    assert top["doc_key"].iloc[0].startswith(f"work/{LAMPLIGHTER.key}/")
    assert "gen-0 reproduces" in summary  # most of the output is one run of the work's words
    assert f"of '{LAMPLIGHTER.title}'" in summary


def test_ctrl_c_during_training_resumes_on_the_next_demo(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
    hits = []

    def ctrl_c_after_the_first_commit(name: str) -> None:
        if name == "ledger.after_commit":
            hits.append(name)
            if len(hits) == 1:
                raise KeyboardInterrupt

    monkeypatch.setattr(faults, "point", ctrl_c_after_the_first_commit)
    quick = {"steps": 4, "checkpoint_every": 2, "paragraphs": 10, "say": lambda _: None}
    with pytest.raises(KeyboardInterrupt):
        demo.run(tmp_path, url, **quick)
    with session_scope(open_ledger(url, write=False)) as session:
        (status,) = list_runs(session)["status"]
    assert status == "interrupted"  # committed up to step 2 of 4, and says so at once
    summary = demo.run(tmp_path, url, **quick)
    assert "(reused, built earlier)" in summary
    assert "resuming run" in summary
    with session_scope(open_ledger(url, write=False)) as session:
        runs = list_runs(session)
    assert len(runs) == 2 and set(runs["status"]) == {"done"}  # no second, half-written run
    again = demo.run(tmp_path, url, **quick)
    assert again.count("reused run") == 2  # finished runs are not trained again
    assert is_work("work/x/copy-00") and not is_work("1790-Washington/p3")


def _finding(doc_key: str, title: str, span: int, text: str) -> demo.Finding:
    lead = SimpleNamespace(doc_key=doc_key, title=title, source="Press", share=0.25)
    return demo.Finding(TargetText("gen-0", text, "Once"), "k", [lead], span, 0.5, 0.9)


def test_the_plain_words_tell_reproduction_from_fragments_and_composition():
    ten = "one two three four five six seven eight nine ten"
    full = _finding("work/w/copy-01", "W", 10, ten).sentence()
    assert full.startswith("gen-0 reproduces 10 words of 'W' (Press), work/w/copy-01: rank 1, 25")
    assert full.endswith("all copies of the work together 90%")
    assert "partly reproduces 6 words" in _finding("work/w/copy-01", "W", 6, ten * 2).sentence()
    # Three words in a row with a work are a phrase, not a reproduction.
    assert "is composed from the corpus" in _finding("work/w/copy-01", "W", 3, ten).sentence()
    assert "is composed from the corpus" in _finding("1790-Washington/p3", "S", 9, ten).sentence()
