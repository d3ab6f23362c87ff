"""Shared pieces of the reliability suite (issue 9; docs/reliability.md).

Fast tests run in every `pytest` run; tests marked `slow` and `reliability_full` make up the
full suite, run with:

    .venv/bin/python -m pytest -m "reliability_full or not slow" tests/reliability

PostgreSQL: 127.0.0.1:5432 (PROVENANCE_TEST_PG_URL), as in tests/db/conftest.py: the PostgreSQL
cases skip with the reason where it is unreachable, and fail under CI=true.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from reliability_helpers import (
    EVERY,
    FULL_EVERY,
    FULL_STEPS,
    STEPS,
    ledger_rows,
    outputs,
    reference_run,
    write_corpus,
)


@pytest.fixture(scope="session")
def corpus_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("corpus") / "corpus.jsonl"
    write_corpus(path)
    return path


@pytest.fixture(scope="session")
def targets_file(corpus_file: Path) -> Path:
    """One target: a verbatim copy of doc-009 (its value is what a report would show first)."""
    import json

    doc = json.loads(corpus_file.read_text().splitlines()[9])
    path = corpus_file.parent / "targets.jsonl"
    path.write_text(json.dumps({"id": "copy", "text": doc["text"]}) + "\n")
    return path


@pytest.fixture(params=["sqlite", "postgresql"])
def any_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty ledger of each kind."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
    return request.getfixturevalue("fresh_pg_url")


def _reference(root: Path, corpus: Path, targets: Path, steps: int, every: int):
    url = f"sqlite:///{root / 'ledger.sqlite3'}"
    run_id = reference_run(corpus, targets, root / "out", url, steps, every)
    return outputs(root / "out", run_id), ledger_rows(url)


@pytest.fixture(scope="session")
def reference(tmp_path_factory, corpus_file, targets_file):
    return _reference(tmp_path_factory.mktemp("ref"), corpus_file, targets_file, STEPS, EVERY)


@pytest.fixture(scope="session")
def full_reference(tmp_path_factory, corpus_file, targets_file):
    root = tmp_path_factory.mktemp("full-ref")
    return _reference(root, corpus_file, targets_file, FULL_STEPS, FULL_EVERY)
