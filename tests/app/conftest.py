"""A seeded fixture ledger for the UI tests, written through the repository functions.

Run `run-fixture` trained on eight documents with two user targets and one reference target.
For target `t-known` the document `doc-copy` (source "Acme Press") is the clear top
contributor by specific value; `doc-noise` is negative for both targets.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import streamlit as st

from attribution_engine.train_config import TrainConfig
from benchmarks.ledger_seed import document, seed_ledger
from db.catalog import TargetRecord, commit_step
from db.models import TargetOrigin
from db.schema import upgrade
from db.session import make_engine, make_sessionmaker, session_scope
from db.values import EfficiencyRecord, write_document_values, write_efficiency, write_snapshots
from provenance.jobs import TrainJob, enqueue

APP_DIR = Path(__file__).resolve().parents[2] / "app"
ENTRY = str(APP_DIR / "streamlit_app.py")
RUN = "run-fixture"
KNOWN_TARGET = "t-known"
KNOWN_TOP = "doc-copy"
KNOWN_TEXT = "We hold these truths to be self-evident, that all men are created equal."
# Markup and Markdown in a corpus text, around words it shares with KNOWN_TEXT (so the detail
# view highlights next to them): every piece must render as inert text.
HOSTILE_TEXT = (
    "<img src=x onerror=alert(1)> [x](javascript:alert(1)) ![p](http://evil.test/p.png) "
    "We hold these truths to be self-evident <script>alert('x')</script> & \"quoted\" "
    "that all men are created equal."
)

DOCUMENTS = [
    # doc_key, source, author, license, title, text
    ("doc-copy", "Acme Press", "Jefferson", "public-domain", "Declaration", KNOWN_TEXT),
    ("doc-para", "Acme Press", "Jefferson", "public-domain", "Paraphrase", "All men equal."),
    ("doc-a", "Beta Books", "Adams", "cc-by", "Letters", "Remember the ladies."),
    ("doc-b", "Beta Books", "Adams", "cc-by", "Diary", "A long day at sea."),
    ("doc-c", "Gamma News", None, None, "Report", "Markets rose today."),
    ("doc-d", "Gamma News", None, None, "<script>alert('x')</script>", HOSTILE_TEXT),
    ("doc-noise", None, None, None, None, "asdf qwer zxcv"),
    ("doc-ref", "Gamma News", None, None, "Held out", "Reference text for contrast."),
]
# Specific values for t-known, in DOCUMENTS order; raw = specific + 0.01 (generic help).
KNOWN_SPECIFIC = [0.50, 0.20, 0.05, 0.02, 0.01, 0.005, -0.30, 0.0]
OTHER_SPECIFIC = [0.01, 0.00, 0.40, 0.10, 0.02, 0.03, -0.10, 0.0]


def seed_fixture_ledger(url: str) -> None:
    """Write the fixture run (4 steps of the tiny model) into a fresh ledger at `url` (schema
    upgraded first)."""
    engine = make_engine(url)
    upgrade(engine)
    factory = make_sessionmaker(engine, write=True)
    records = [
        document(key, text, source=source, author=author, license=license_, title=title)
        for key, source, author, license_, title, text in DOCUMENTS
    ]
    targets = [
        TargetRecord(KNOWN_TARGET, KNOWN_TEXT, TargetOrigin.FILE),
        TargetRecord(
            "t-other",
            "Remember the ladies, and be generous.",
            TargetOrigin.FILE,
            prompt="Abigail wrote:",
        ),
        TargetRecord("reference:doc-ref", "Reference text for contrast.", TargetOrigin.REFERENCE),
    ]
    doc_ids = seed_ledger(
        factory,
        records,
        targets,
        run_key=RUN,
        steps=4,
        corpus_sha256="c" * 64,
        corpus_path="/data/fixture.jsonl",
    )
    with session_scope(factory) as session:
        for target, specific in ((KNOWN_TARGET, KNOWN_SPECIFIC), ("t-other", OTHER_SPECIFIC)):
            spec = np.array(specific)
            write_document_values(session, RUN, target, doc_ids, spec + 0.01, spec)
            for step in (1, 2, 3, 4):
                write_snapshots(session, RUN, target, step, doc_ids[:3], spec[:3] * step / 4)
        write_document_values(
            session, RUN, "reference:doc-ref", doc_ids, np.full(8, 0.01), np.zeros(8)
        )
        write_efficiency(
            session,
            RUN,
            [
                EfficiencyRecord(step, target, 0.12, 0.13, 3.0 - 0.1 * step, 0.004)
                for step in range(4)
                for target in (KNOWN_TARGET, "t-other")
            ],
        )
        commit_step(session, RUN, 4, final_weights_sha256="3" * 64)  # a finished run
        missing = Path("/data/missing.jsonl")
        enqueue(session, TrainJob(corpus_path=missing, config=TrainConfig(steps=2)))
    engine.dispose()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    path = tmp_path / "provenance-data"
    path.mkdir()
    return path


@pytest.fixture
def seeded(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The fixture ledger in the data directory, named by the environment as `provenance ui`
    names it; caches cleared so no other test's ledger leaks in."""
    url = f"sqlite:///{data_dir / 'ledger.sqlite3'}"
    seed_fixture_ledger(url)
    monkeypatch.setenv("PROVENANCE_DATA_DIR", str(data_dir))
    monkeypatch.delenv("PROVENANCE_DB_URL", raising=False)
    st.cache_data.clear()
    yield url
    st.cache_data.clear()


@pytest.fixture
def empty(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A data directory without a ledger yet: the app creates an empty one."""
    monkeypatch.setenv("PROVENANCE_DATA_DIR", str(data_dir))
    monkeypatch.delenv("PROVENANCE_DB_URL", raising=False)
    st.cache_data.clear()
    yield f"sqlite:///{data_dir / 'ledger.sqlite3'}"
    st.cache_data.clear()


@pytest.fixture
def seeded_pg(
    request: pytest.FixtureRequest, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """The fixture ledger on PostgreSQL, named by PROVENANCE_DB_URL (skips without a server,
    fails under CI=true, as the ledger tests do)."""
    url = request.getfixturevalue("fresh_pg_url")
    seed_fixture_ledger(url)
    monkeypatch.setenv("PROVENANCE_DATA_DIR", str(data_dir))
    monkeypatch.setenv("PROVENANCE_DB_URL", url)
    st.cache_data.clear()
    st.cache_resource.clear()  # the engine holds connections to the database dropped after
    yield url
    st.cache_data.clear()
    st.cache_resource.clear()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    """`provenance ui` on a fresh fixture ledger (the browser tests); yields its base URL."""
    from tests.app.browser import serve_ui

    data_dir = tmp_path / "provenance-data"
    seed_fixture_ledger(f"sqlite:///{data_dir / 'ledger.sqlite3'}")
    with serve_ui(data_dir, tmp_path / "ui.log") as base:
        yield base
