"""Jobs and the worker on SQLite and PostgreSQL: claim order, exactly-once claims under
concurrency, lease expiry and takeover, one running job per run, failures stored, progress
visible to readers, typed payloads checked on enqueue and again by the worker."""

from __future__ import annotations

import datetime as dt
import logging
import re
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from attribution_engine.targets import TargetText
from attribution_engine.train_config import TrainConfig
from db.jobs import (
    JOB_COLUMNS,
    LeaseLost,
    claim,
    enqueue,
    finish,
    heartbeat,
    job_status,
    list_jobs,
)
from db.models import JobStatus
from db.session import make_sessionmaker, session_scope
from provenance.jobs import AttributeJob, JobKind, PayloadError, TrainJob
from provenance.jobs import enqueue as enqueue_job
from provenance.worker import run_worker

T0 = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC)


def _at(seconds: float):
    return lambda: T0 + dt.timedelta(seconds=seconds)


@pytest.fixture
def factories(ledger):
    return make_sessionmaker(ledger, write=True), make_sessionmaker(ledger)


def _enqueue(write, kind: str, payload: dict) -> int:
    with session_scope(write) as session:
        return enqueue(session, kind, payload).id


def test_enqueue_claim_heartbeat_finish(factories):
    write, read = factories
    first = _enqueue(write, "attribute", {"target": "t1"})
    second = _enqueue(write, "report", {"format": "pdf"})
    with session_scope(read) as session:
        queued = job_status(session, first)
    assert (queued.status, queued.progress, queued.lease_owner) == (JobStatus.QUEUED, 0.0, None)
    assert queued.payload == {"target": "t1"} and queued.run_key is None
    assert queued.created.tzinfo is not None

    job = claim(write, "w1", 30, now=_at(0))
    assert job is not None and job.id == first  # oldest first
    assert (job.status, job.lease_owner) == (JobStatus.RUNNING, "w1")
    assert job.lease_expires == T0 + dt.timedelta(seconds=30)
    assert claim(write, "w1", 30, kinds=["attribute"], now=_at(1)) is None  # kinds filter
    heartbeat(write, first, "w1", 0.25, "step 1", 30, now=_at(10))
    with session_scope(read) as session:
        running = job_status(session, first)
    assert (running.progress, running.message) == (0.25, "step 1")
    assert running.lease_expires == T0 + dt.timedelta(seconds=40)

    finish(write, first, "w1", ok=True, message="wrote 3 values")
    with session_scope(read) as session:
        done = job_status(session, first)
        frame = list_jobs(session)
        queued_only = list_jobs(session, JobStatus.QUEUED)
    assert (done.status, done.progress, done.message) == (JobStatus.DONE, 1.0, "wrote 3 values")
    assert done.lease_expires is None and done.lease_owner == "w1"
    assert list(frame.columns) == JOB_COLUMNS
    assert frame["id"].tolist() == [first, second]
    assert frame["status"].tolist() == ["done", "queued"]
    assert queued_only["id"].tolist() == [second]
    with pytest.raises(LeaseLost, match="already done"):
        finish(write, first, "w1", ok=False, message="again")
    with session_scope(read) as session, pytest.raises(LookupError, match="no job 999"):
        job_status(session, 999)


def test_job_writes_refuse_a_read_session_factory(factories):
    _, read = factories
    with pytest.raises(ValueError, match="write=True"):
        claim(read, "w1", 30)


def test_concurrent_claimers_take_each_job_exactly_once(factories):
    write, _ = factories
    with session_scope(write) as session:
        ids = [enqueue(session, "work", {"i": i}).id for i in range(50)]

    def drain(worker: str) -> list[int]:
        mine = []
        while (job := claim(write, worker, 60)) is not None:
            mine.append(job.id)
            finish(write, job.id, worker, ok=True, message=None)
        return mine

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(drain, [f"w{i}" for i in range(4)]))
    counts = Counter(job_id for mine in results for job_id in mine)
    assert sorted(counts) == ids and set(counts.values()) == {1}


def test_an_expired_lease_is_reclaimed_and_the_old_owner_refused(factories):
    write, read = factories
    job_id = _enqueue(write, "work", {})
    assert claim(write, "crashed", 10, now=_at(0)).id == job_id
    assert claim(write, "w2", 10, now=_at(9)) is None  # lease still live
    taken = claim(write, "w2", 10, now=_at(11))
    assert taken is not None and taken.id == job_id and taken.lease_owner == "w2"
    with pytest.raises(LeaseLost, match="'w2' holds its lease"):
        heartbeat(write, job_id, "crashed", 0.5, None, 10, now=_at(12))
    with pytest.raises(LeaseLost):
        finish(write, job_id, "crashed", ok=True, message=None)
    heartbeat(write, job_id, "w2", None, "resumed", 10, now=_at(12))
    with session_scope(read) as session:
        assert job_status(session, job_id).lease_owner == "w2"


def test_a_second_worker_on_the_same_run_is_refused(factories):
    write, _ = factories
    first = _enqueue(write, "train", {"run_key": "r1"})
    second = _enqueue(write, "attribute", {"run_key": "r1"})
    other = _enqueue(write, "attribute", {"run_key": "r2"})
    assert claim(write, "w1", 30, now=_at(0)).id == first
    # w2 skips r1 (running under w1) and gets the other run's job, then nothing.
    assert claim(write, "w2", 30, now=_at(1)).id == other
    assert claim(write, "w3", 30, now=_at(1)) is None
    with pytest.raises(LeaseLost):
        heartbeat(write, first, "w3", 0.1, None, 30, now=_at(1))
    finish(write, first, "w1", ok=True, message=None)
    assert claim(write, "w3", 30, now=_at(2)).id == second


def test_concurrent_claims_of_one_run_run_one_job_at_a_time(factories):
    write, read = factories
    with session_scope(write) as session:
        for i in range(12):
            enqueue(session, "work", {"run_key": "r1", "i": i})
    running_seen = []  # jobs of r1 running while a worker held one, seen from a reader

    def drain(worker: str) -> list[int]:
        mine = []
        while True:
            job = claim(write, worker, 60)
            if job is None:
                with session_scope(read) as session:
                    if list_jobs(session, JobStatus.QUEUED).empty:
                        return mine
                time.sleep(0.001)
                continue
            time.sleep(0.005)  # hold the job while the other workers try to claim
            with session_scope(read) as session:
                running_seen.append(len(list_jobs(session, JobStatus.RUNNING)))
            mine.append(job.id)
            finish(write, job.id, worker, ok=True, message=None)

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(drain, [f"w{i}" for i in range(4)]))
    ids = [job_id for mine in results for job_id in mine]
    assert sorted(ids) == sorted(set(ids)) and len(ids) == 12
    assert set(running_seen) == {1}


TARGET = TargetText(id="t1", text="Four score and seven years ago", prompt="Lincoln:")


def test_worker_marks_a_failing_handler_failed_with_its_message(factories, caplog):
    write, read = factories
    bad = enqueue_job(write, TrainJob(corpus_path=Path("/data/c.jsonl")))
    good = enqueue_job(write, AttributeJob(run_key="r1", targets=(TARGET,)))
    seen = []

    def explode(job, report):
        report(0.5, "halfway")
        raise RuntimeError(f"corpus missing: {job.corpus_path}")

    def fine(job, report):
        seen.append(job)
        report(1.0, "ok")

    handlers = {JobKind.TRAIN: explode, JobKind.ATTRIBUTE: fine}
    with caplog.at_level(logging.ERROR, logger="provenance.worker"):
        assert run_worker(write, handlers, "w1", once=True) == 1
    assert run_worker(write, handlers, "w1", once=True) == 1
    assert run_worker(write, handlers, "w1", once=True) == 0  # queue empty: returns
    assert seen == [AttributeJob(run_key="r1", targets=(TARGET,))]  # the typed payload
    with session_scope(read) as session:
        failed, ok = job_status(session, bad), job_status(session, good)
    assert failed.status == JobStatus.FAILED
    assert failed.message == "RuntimeError: corpus missing: /data/c.jsonl"
    assert failed.progress == 0.5
    assert any("failed" in r.getMessage() and r.exc_info for r in caplog.records)
    assert (ok.status, ok.progress, ok.message) == (JobStatus.DONE, 1.0, None)


def test_progress_is_visible_to_a_reader_while_running(factories):
    write, read = factories
    job_id = enqueue_job(write, AttributeJob(run_key="r1", targets=(TARGET,)))
    reported, release, stop = threading.Event(), threading.Event(), threading.Event()

    def slow(job, report):
        report(0.4, "step 40 of 100")
        reported.set()
        assert release.wait(30)

    thread = threading.Thread(
        target=run_worker, args=(write, {JobKind.ATTRIBUTE: slow}, "w1"), kwargs={"stop": stop}
    )
    thread.start()
    try:
        assert reported.wait(30)
        with session_scope(read) as session:
            seen = job_status(session, job_id)
        assert (seen.status, seen.progress, seen.message) == (
            JobStatus.RUNNING,
            0.4,
            "step 40 of 100",
        )
        assert claim(write, "w2", 30) is None  # the run is busy
    finally:
        release.set()
        stop.set()
        thread.join(30)
    assert not thread.is_alive()
    with session_scope(read) as session:
        assert job_status(session, job_id).status == JobStatus.DONE


@pytest.mark.parametrize(
    ("kind", "payload", "message"),
    [
        ("train", {"config": {}}, "'corpus_path' must be a path on the worker's machine"),
        ("train", {"corpus_path": "/c.jsonl", "config": {"steps": "5"}}, "'config.steps' must"),
        ("train", {"corpus_path": "/c.jsonl", "config": {"stepz": 5}}, r"unknown option\(s\)"),
        ("attribute", {"run_key": "r1", "targets": "/srv/uploads/x.jsonl"}, "is a file path"),
        ("attribute", {"run_key": "r1", "targets": [{"id": "a"}]}, "'targets\\[0\\]': missing"),
        ("attribute", {"targets": []}, "'run_key' must be the run id"),
    ],
)
def test_worker_fails_a_bad_payload_row_with_the_reason(factories, caplog, kind, payload, message):
    """A row written around `enqueue` (another client, an older version) fails its job with a
    PayloadError naming the field; the handler never runs and nothing raises a KeyError."""
    write, read = factories
    job_id = _enqueue(write, kind, payload)
    ran = []
    handlers = {k: (lambda job, report: ran.append(job)) for k in JobKind}
    with caplog.at_level(logging.WARNING, logger="provenance.worker"):
        assert run_worker(write, handlers, "w1", once=True) == 1
    with session_scope(read) as session:
        failed = job_status(session, job_id)
    assert ran == [] and failed.status == JobStatus.FAILED
    assert failed.message.startswith("PayloadError: ")
    assert re.search(message, failed.message), failed.message
    assert any("refused" in r.getMessage() and not r.exc_info for r in caplog.records)


def test_enqueue_checks_the_payload_and_writes_nothing_bad(factories):
    write, read = factories
    with pytest.raises(PayloadError, match="TrainJob or an AttributeJob, not dict"):
        enqueue_job(write, {"corpus": "/c.jsonl"})
    with pytest.raises(PayloadError, match="'targets' is empty"):
        enqueue_job(write, AttributeJob(run_key="r1", targets=()))
    with session_scope(read) as session:
        assert list_jobs(session).empty
    train = TrainJob(corpus_path=Path("/c.jsonl"), config=TrainConfig(steps=3))
    with session_scope(write) as session:  # a session: the caller's transaction commits
        first = enqueue_job(session, train)
    second = enqueue_job(write, AttributeJob(run_key="r1", targets=(TARGET,)))
    with session_scope(read) as session:
        rows = [job_status(session, first), job_status(session, second)]
    assert [(r.kind, r.run_key) for r in rows] == [("train", None), ("attribute", "r1")]
    assert TrainJob.from_json(rows[0].payload) == train


def test_an_attribute_job_carries_its_targets_with_no_file(factories, tmp_path, monkeypatch):
    """The targets travel in the row: the worker's handler gets them from the ledger alone."""
    write, read = factories
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)  # nothing is written to or read from a targets file
    targets = (TARGET, TargetText(id="t2", text="Ask not\nwhat your country"))
    job_id = enqueue_job(write, AttributeJob(run_key="r1", targets=targets))
    with session_scope(read) as session:
        stored = job_status(session, job_id).payload
    assert stored["targets"][1] == {
        "id": "t2",
        "text": "Ask not\nwhat your country",
        "prompt": None,
    }
    got = []
    handlers = {JobKind.ATTRIBUTE: lambda job, report: got.append(job.targets)}
    assert run_worker(write, handlers, "w1", once=True) == 1
    assert got == [targets] and list(work.iterdir()) == []
