"""Item 7 of issue 18: a job never runs twice. The lease is renewed by a heartbeat thread,
not by checkpoints, so a second worker never takes a live job however long a step takes; a
job whose worker died is taken over and its run resumed from its last checkpoint, not
started again."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import text
from synthetic import write_corpus

from attribution_engine.train_config import TrainConfig
from db import jobs
from db.models import JobStatus
from db.schema import upgrade
from db.session import make_engine, make_sessionmaker, session_scope
from provenance import runs
from provenance.jobs import JobKind, TrainJob, enqueue
from provenance.jobs.handlers import handlers, train_run_id
from provenance.worker import run_worker

LEASE_S = 0.6


def test_second_worker_never_takes_a_live_job(tmp_path: Path) -> None:
    """The handler reports nothing for five leases (one long step); a second worker asking
    all the while never gets the job, and the first finishes it."""
    engine = make_engine(f"sqlite:///{tmp_path / 'ledger.sqlite3'}")
    upgrade(engine)
    write = make_sessionmaker(engine, write=True)
    with session_scope(write) as session:
        job_id = jobs.enqueue(session, "train", {"corpus_path": "c.jsonl"}).id
    runs_of: list[str] = []
    started = threading.Event()

    def silent(payload, report) -> None:
        runs_of.append(report.job.lease_owner)
        started.set()
        time.sleep(5 * LEASE_S)  # no report: only the heartbeat keeps the lease

    first = threading.Thread(
        target=run_worker,
        args=(write, {JobKind.TRAIN: silent}, "w1"),
        kwargs={"once": True, "lease_seconds": LEASE_S},
    )
    first.start()
    assert started.wait(30)
    taken = []
    while first.is_alive():
        got = jobs.claim(write, "w2", LEASE_S)
        if got is not None:
            taken.append(got.id)
        time.sleep(0.05)
    first.join()
    with session_scope(make_sessionmaker(engine)) as session:
        job = jobs.job_status(session, job_id)
    engine.dispose()
    assert taken == [] and runs_of == ["w1"]
    assert (job.status, job.lease_owner) == (JobStatus.DONE, "w1")


def test_dead_workers_job_resumes_from_its_checkpoint(tmp_path: Path, monkeypatch) -> None:
    """Worker 1 is killed (SIGKILL) after its first checkpoint; worker 2 takes the job over
    once the lease expires and finishes the same run from that checkpoint: one run folder,
    one run in the ledger, never a second `runs.train`."""
    data = tmp_path / "data"
    (data / "corpora").mkdir(parents=True)
    write_corpus(data / "corpora" / "c.jsonl", n_docs=20)
    url = f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
    engine = make_engine(url)
    upgrade(engine)
    write = make_sessionmaker(engine, write=True)
    config = TrainConfig(steps=4, batch_rows=4, checkpoint_every=2, lr=3e-3)
    job_id = enqueue(write, TrainJob(corpus_path=Path("c.jsonl"), config=config))

    worker = ["worker", "--once", "--lease", "2", "--out", str(data), "--db", url]
    killed = subprocess.run(
        [sys.executable, "-m", "provenance.cli", *worker],
        capture_output=True,
        text=True,
        timeout=300,
        env={
            **os.environ,
            "OMP_NUM_THREADS": "1",
            "PROVENANCE_FAULT_AT": "training.after_step@3=kill",
        },
    )
    assert killed.returncode == -9, killed.stderr[-2000:]
    with session_scope(make_sessionmaker(engine)) as session:
        job = jobs.job_status(session, job_id)
    assert job.status is JobStatus.RUNNING  # its worker died holding it
    run_id = train_run_id(job)
    assert sorted(p.name for p in (data / "runs").iterdir()) == [run_id]
    assert [p.name for p in (data / "runs" / run_id / "checkpoints").glob("step-*.pt")] == [
        "step-00000002.pt"
    ]

    def no_second_run(*args, **kwargs):
        raise AssertionError("the job was started again instead of resumed")

    monkeypatch.setattr(runs, "train", no_second_run)
    time.sleep(2.1)  # the dead worker's lease expires
    assert run_worker(write, handlers(data, write), "w2", once=True, lease_seconds=30) == 1
    with session_scope(make_sessionmaker(engine)) as session:
        job = jobs.job_status(session, job_id)
        run_count = session.execute(text("SELECT count(*) FROM runs")).scalar_one()
    engine.dispose()
    assert (job.status, job.lease_owner) == (JobStatus.DONE, "w2"), job.message
    assert sorted(p.name for p in (data / "runs").iterdir()) == [run_id]
    summary = json.loads((data / "runs" / run_id / "summary.json").read_text())
    assert summary["steps"] == 4 and run_count == 1


@pytest.mark.parametrize("prepared", [False, True], ids=["empty-folder", "no-recipe"])
def test_half_prepared_run_of_a_dead_worker_is_prepared_again(
    tmp_path: Path, prepared: bool
) -> None:
    """A worker that died while preparing its run (before recipe.json) leaves a folder the
    next worker replaces, instead of failing on it."""
    data = tmp_path / "data"
    (data / "corpora").mkdir(parents=True)
    write_corpus(data / "corpora" / "c.jsonl", n_docs=20)
    engine = make_engine(f"sqlite:///{tmp_path / 'ledger.sqlite3'}")
    upgrade(engine)
    write = make_sessionmaker(engine, write=True)
    config = TrainConfig(steps=2, batch_rows=4, checkpoint_every=2)
    job_id = enqueue(write, TrainJob(corpus_path=Path("c.jsonl"), config=config))
    with session_scope(make_sessionmaker(engine)) as session:
        run_id = train_run_id(jobs.job_status(session, job_id))
    half = data / "runs" / run_id
    half.mkdir(parents=True)
    if prepared:
        (half / "initial.pt").write_bytes(b"torn")
    assert run_worker(write, handlers(data, write), "w1", once=True) == 1
    with session_scope(make_sessionmaker(engine)) as session:
        job = jobs.job_status(session, job_id)
    engine.dispose()
    assert job.status is JobStatus.DONE, job.message
    assert (half / "summary.json").is_file()
