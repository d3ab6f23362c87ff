"""Item 1 and 4 of issue 18: no server file is read through the job queue. The Runs form only
offers names from the data directory's corpus and model folders, and the worker resolves every
name of a payload against its own folders again, so a row written by any client (the UI's
database role can insert any payload) reads nothing outside them and creates no run."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from attribution_engine.train_config import TINY_MODEL
from db import jobs
from db.models import JobStatus
from db.schema import upgrade
from db.session import make_engine, make_sessionmaker, session_scope
from provenance.jobs import PayloadError
from provenance.jobs.forms import train_job
from provenance.jobs.handlers import handlers
from provenance.jobs.roots import Roots
from provenance.worker import run_worker

CORPUS = '{"id": "d1", "text": "hello there"}\n'


@pytest.fixture
def data(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    (root / "corpora").mkdir(parents=True)
    (root / "corpora" / "ok.jsonl").write_text(CORPUS)
    return root


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    """A private file outside the data directory, as the issue's 24 note files were."""
    notes = tmp_path / "private"
    notes.mkdir()
    (notes / "note.txt").write_text("my private note\n")
    (notes / "notes.jsonl").write_text('{"id": "n1", "text": "private"}\n')
    return notes


def test_ui_cannot_queue_server_path_as_corpus(data: Path, secret: Path) -> None:
    roots = Roots(data)
    for name in (str(secret), str(secret / "notes.jsonl"), "../../private", "/etc/hostname"):
        with pytest.raises(PayloadError, match=r"outside|'\.\.'"):
            train_job(roots, name, TINY_MODEL)
    job = train_job(roots, "ok.jsonl", TINY_MODEL, steps=2)
    assert job.corpus_path == Path("ok.jsonl")  # a name, never a server path
    assert roots.corpus_choices() == ["ok.jsonl"]


def test_refusal_does_not_reveal_whether_a_server_path_exists(data: Path, secret: Path) -> None:
    roots = Roots(data)
    messages = []
    for name in (secret / "notes.jsonl", secret / "nofil.jsonl"):  # same length
        with pytest.raises(PayloadError) as caught:
            train_job(roots, str(name), TINY_MODEL)
        messages.append(str(caught.value).replace(name.stem, "NAME"))
    assert messages[0] == messages[1]


def test_symlink_out_of_the_corpus_folder_is_refused(data: Path, secret: Path) -> None:
    (data / "corpora" / "link").symlink_to(secret)
    roots = Roots(data)
    assert "link" not in roots.corpus_choices()
    with pytest.raises(PayloadError, match="outside"):
        train_job(roots, "link", TINY_MODEL)


def test_ui_cannot_queue_server_path_as_model(data: Path, tmp_path: Path) -> None:
    model = tmp_path / "elsewhere"
    model.mkdir()
    (model / "config.json").write_text("{}")
    with pytest.raises(PayloadError, match="outside"):
        train_job(Roots(data), "ok.jsonl", str(model))


def _worker_runs(url: str, data: Path, kind: str, payload: dict) -> jobs.JobInfo:
    """Insert `payload` as any client with INSERT on jobs could, run one worker pass."""
    engine = make_engine(url)
    upgrade(engine)
    write = make_sessionmaker(engine, write=True)
    with session_scope(write) as session:
        job_id = jobs.enqueue(session, kind, payload).id
    run_worker(write, handlers(data, write), "w1", once=True, lease_seconds=30)
    with session_scope(make_sessionmaker(engine)) as session:
        job = jobs.job_status(session, job_id)
    engine.dispose()
    return job


@pytest.mark.parametrize(
    "kind, payload",
    [
        ("train", {"corpus_path": "SECRET/notes.jsonl"}),
        ("train", {"corpus_path": "SECRET"}),
        ("train", {"corpus_path": "../../private/notes.jsonl"}),
        ("train", {"corpus_path": "link/notes.jsonl"}),
        ("train", {"corpus_path": "ok.jsonl", "model": "SECRET"}),
        ("train", {"corpus_path": "ok.jsonl", "targets_path": "SECRET/notes.jsonl"}),
        ("attribute", {"run_key": "../../private", "targets": [{"id": "t", "text": "x"}]}),
        ("attribute", {"run_key": "/etc", "targets": [{"id": "t", "text": "x"}]}),
    ],
    ids=[
        "absolute-file",
        "absolute-folder",
        "dotdot",
        "symlink",
        "model",
        "targets",
        "dotdot-run-id",
        "absolute-run-id",
    ],
)
def test_worker_refuses_server_path_queued_by_another_client(
    data: Path, secret: Path, tmp_path: Path, kind: str, payload: dict
) -> None:
    (data / "corpora" / "link").symlink_to(secret)
    (secret / "config.json").write_text("{}")  # would pass for a model folder
    payload = {
        k: v.replace("SECRET", str(secret)) if isinstance(v, str) else v for k, v in payload.items()
    }
    job = _worker_runs(f"sqlite:///{tmp_path / 'ledger.sqlite3'}", data, kind, payload)
    assert job.status is JobStatus.FAILED
    assert job.message.startswith("PayloadError: "), job.message
    assert len(job.message.splitlines()) == 1
    assert not (data / "runs").exists() or not os.listdir(data / "runs")  # nothing created
