"""Item 10 of issue 18: a corpus line holding NUL (\\u0000), which PostgreSQL cannot store, is
refused up front with file:line and exit code 2, before any run folder is written; a single
document over MAX_DOCUMENT_CHARS (one 10 MB line made a 2-step run take 192 s and 2.7 GB) is
refused the same way, in seconds."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from reliability_helpers import run_cli

from attribution_engine.corpus import MAX_DOCUMENT_CHARS, CorpusError, load_corpus


def _corpus(path: Path, bad: dict) -> Path:
    lines = [{"id": f"d{i}", "text": f"document number {i}"} for i in range(4)]
    lines.insert(2, bad)
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


@pytest.mark.parametrize(
    "bad",
    [
        {"id": "nul", "text": "before\u0000after"},
        {"id": "nul-title", "text": "fine", "title": "a\u0000b"},
        {"id": "nul-meta", "text": "fine", "extra": {"deep": ["x\u0000"]}},
    ],
    ids=["text", "title", "metadata"],
)
def test_corpus_line_with_nul_is_refused_with_file_line(tmp_path: Path, bad: dict) -> None:
    path = _corpus(tmp_path / "corpus.jsonl", bad)
    with pytest.raises(CorpusError, match=r"corpus\.jsonl:3: .*NUL"):
        load_corpus(path)
    skipped = load_corpus(path, lenient=True).skipped  # lenient: skipped and listed
    assert [s.location.rsplit(":", 1)[1] for s in skipped] == ["3"]


def test_train_refuses_nul_before_writing_a_run_folder(tmp_path: Path) -> None:
    path = _corpus(tmp_path / "corpus.jsonl", {"id": "nul", "text": "a\u0000b"})
    out = tmp_path / "out"
    ledger = f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
    args = ["train", "--corpus", str(path), "--out", str(out), "--steps", "2", "--db", ledger]
    done = run_cli([*args, "--quiet"], timeout=120)
    assert done.returncode == 2, done.stderr[-2000:]
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "corpus.jsonl:3" in lines[0] and "NUL" in lines[0], done.stderr
    assert not (out / "runs").exists() or not any((out / "runs").iterdir())


def test_huge_single_line_document_is_refused_fast(tmp_path: Path) -> None:
    huge = {"id": "huge", "text": "word " * (MAX_DOCUMENT_CHARS // 5 + 1)}
    path = _corpus(tmp_path / "corpus.jsonl", huge)
    started = time.perf_counter()
    with pytest.raises(CorpusError, match=r"corpus\.jsonl:3: 'text' is 1,000,005 characters"):
        load_corpus(path)
    assert time.perf_counter() - started < 5
