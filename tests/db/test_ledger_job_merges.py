"""Merged replays in the queue, on SQLite and PostgreSQL: a claimed attribute job takes in the
newer queued jobs of its run; they share its lease, progress and outcome, stay unclaimable
while it runs, and come back under a new worker's lease when it takes the job over."""

from __future__ import annotations

import datetime as dt

import pytest

from db.jobs import LeaseLost, claim, enqueue, finish, heartbeat, job_status, merge, mergeable
from db.models import JobStatus
from db.session import make_sessionmaker, session_scope

T0 = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC)


def _at(seconds: float):
    return lambda: T0 + dt.timedelta(seconds=seconds)


def _enqueue(write, kind: str, run_key: str) -> int:
    with session_scope(write) as session:
        return enqueue(session, kind, {"run_key": run_key, "targets": []}).id


def test_merged_jobs_share_the_lease_progress_and_outcome(ledger):
    write, read = make_sessionmaker(ledger, write=True), make_sessionmaker(ledger)
    first = _enqueue(write, "attribute", "r")
    second = _enqueue(write, "attribute", "r")
    other_run = _enqueue(write, "attribute", "s")
    train = _enqueue(write, "train", "r")
    third = _enqueue(write, "attribute", "r")
    job = claim(write, "w1", 30, kinds=["attribute"], now=_at(0))
    assert job is not None and job.id == first
    with session_scope(read) as session:
        assert [j.id for j in mergeable(session, first)] == [second, third]
    members = merge(write, first, "w1", [second], 30, now=_at(0))
    assert [(m.id, m.merged_into, m.status) for m in members] == [
        (second, first, JobStatus.RUNNING)
    ]
    heartbeat(write, first, "w1", 0.5, "step 3 of 6", 30, steps_per_second=2.0, eta_seconds=1.5)
    with session_scope(read) as session:
        shared = job_status(session, second)
    assert (shared.progress, shared.steps_per_second, shared.eta_seconds) == (0.5, 2.0, 1.5)
    # While the replay runs, only the job of another run is claimable.
    assert claim(write, "w2", 30, kinds=["attribute"], now=_at(1)).id == other_run
    assert claim(write, "w3", 30, kinds=["attribute"], now=_at(1)) is None
    finish(write, first, "w1", True, None)
    with session_scope(read) as session:
        done = [job_status(session, i) for i in (first, second, third, train)]
    assert [j.status for j in done] == [
        JobStatus.DONE,
        JobStatus.DONE,
        JobStatus.QUEUED,
        JobStatus.QUEUED,
    ]
    assert done[1].steps_per_second == 2.0  # the measured speed stays on the finished job


def test_a_takeover_keeps_the_merged_jobs(ledger):
    write, read = make_sessionmaker(ledger, write=True), make_sessionmaker(ledger)
    first = _enqueue(write, "attribute", "r")
    second = _enqueue(write, "attribute", "r")
    claim(write, "w1", 10, now=_at(0))
    merge(write, first, "w1", [second], 10, now=_at(0))
    # w1 dies; w2 takes the job over once the lease expired, and re-leases its merged job.
    assert claim(write, "w2", 10, now=_at(20)).id == first
    members = merge(write, first, "w2", [], 10, now=_at(20))
    assert [(m.id, m.lease_owner) for m in members] == [(second, "w2")]
    with pytest.raises(LeaseLost):
        heartbeat(write, first, "w1", 0.9, None, 10)
    finish(write, first, "w2", False, "RunError: corpus changed")
    with session_scope(read) as session:
        failed = job_status(session, second)
    assert (failed.status, failed.message) == (JobStatus.FAILED, "RunError: corpus changed")
