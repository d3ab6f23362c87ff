"""The job queue: the UI enqueues, `provenance worker` claims, heartbeats and finishes.

A job is queued, then running under a lease (`lease_owner`, `lease_expires`), then done or
failed. A worker keeps its lease alive with `renew` (a heartbeat thread, independent of the
job's progress) and records progress with `heartbeat`; a worker that crashes stops renewing,
its lease expires, and the next `claim` takes the job over. Every write checks
the lease owner in its WHERE clause, so a worker whose job was taken over gets `LeaseLost`
instead of overwriting the new owner's progress.

One running job per run: a job whose payload names a `run_key` is claimable only while it is
the oldest unfinished (queued or running) job of that run. A second job of a run therefore
waits until the first is done or failed, and a second worker asking for work on a busy run is
refused (its `claim` skips the run). Because the rule picks one row per run, the row lock of
`claim` is all the locking it needs on both databases.

Backends: `claim` reads the candidate with `SELECT ... FOR UPDATE SKIP LOCKED`, so on
PostgreSQL concurrent workers each lock a different job without waiting. SQLite has no row
locks (SQLAlchemy drops the FOR UPDATE); there the write session's `BEGIN IMMEDIATE`
serialises claimers, so several workers are still correct, but they queue on one lock: SQLite
is meant for one worker at a time.

Merged replays: a worker that claims an attribute job folds the newer queued attribute jobs of
the same run into it (`merge`): they get `merged_into` = the claimed job's id and share its
lease, progress and outcome (every write to the claimed job is made to them too), so one replay
attaches all their targets. The rule above keeps them unclaimable while it runs.

Times are timezone-aware UTC. Job ids are assigned in insertion order; "oldest" means the
smallest id. Session factories passed here must come from `make_sessionmaker(engine,
write=True)`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
from sqlalchemy import ColumnElement, and_, exists, or_, select, update
from sqlalchemy.orm import Session, aliased, sessionmaker

from db.models import Job, JobStatus
from db.session import WRITE_OPTION, session_scope

Clock = Callable[[], dt.datetime]

RUN_KEY = "run_key"  # the payload field that ties a job to a run

JOB_COLUMNS = [
    "id",
    "kind",
    "status",
    "run_key",
    "progress",
    "message",
    "lease_owner",
    "lease_expires",
    "merged_into",
    "steps_per_second",
    "eta_seconds",
    "created",
    "updated",
]


class LeaseLost(RuntimeError):
    """This worker no longer holds the job's lease: another worker owns it, or it is finished."""


@dataclass(frozen=True)
class JobInfo:
    id: int
    kind: str
    status: JobStatus
    payload: dict[str, Any]
    run_key: str | None  # payload["run_key"], if any
    progress: float  # fraction done, 0..1
    message: str | None
    lease_owner: str | None  # the worker that runs (or last ran) the job
    lease_expires: dt.datetime | None  # UTC; None once finished
    merged_into: int | None  # the job whose replay carries this one's targets
    steps_per_second: float | None  # measured by the worker, this attempt
    eta_seconds: float | None  # seconds left at that speed, as of the last report
    created: dt.datetime  # UTC
    updated: dt.datetime  # UTC


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# ---------------------------------------------------------------------------------------------
# Writes (a transaction each, on a write session factory)


def enqueue(session: Session, kind: str, payload: dict[str, Any]) -> JobInfo:
    """Add a queued job; the caller's transaction commits it."""
    run_key = payload.get(RUN_KEY)
    if run_key is not None and not isinstance(run_key, str):
        raise ValueError(f"job payload {RUN_KEY!r} must be a string, not {type(run_key).__name__}")
    job = Job(kind=kind, status=JobStatus.QUEUED, payload=payload, run_key=run_key, progress=0.0)
    session.add(job)
    session.flush()
    session.refresh(job)  # server-side created/updated
    return _info(job)


def claim(
    session_factory: sessionmaker[Session],
    worker_id: str,
    lease_seconds: float,
    kinds: Sequence[str] | None = None,
    now: Clock | None = None,
) -> JobInfo | None:
    """Take the oldest claimable job and lease it to `worker_id` for `lease_seconds` seconds.

    Claimable: queued, or running with an expired lease (its worker crashed), and the oldest
    unfinished job of its run (see the module docstring). `kinds` restricts the job kinds this
    worker handles. Returns None when nothing is claimable.
    """
    _require_writer(session_factory)
    at = _utc((now or utc_now)())
    with session_scope(session_factory) as session:
        query = select(Job).where(_claimable(at)).order_by(Job.id).limit(1)
        if kinds is not None:
            query = query.where(Job.kind.in_(list(kinds)))
        job = session.execute(query.with_for_update(skip_locked=True)).scalar_one_or_none()
        if job is None:
            return None
        job.status = JobStatus.RUNNING
        job.lease_owner = worker_id
        job.lease_expires = at + dt.timedelta(seconds=lease_seconds)
        session.flush()
        session.refresh(job)
        return _info(job)


def heartbeat(
    session_factory: sessionmaker[Session],
    job_id: int,
    worker_id: str,
    progress: float | None,
    message: str | None,
    lease_seconds: float,
    now: Clock | None = None,
    *,
    steps_per_second: float | None = None,
    eta_seconds: float | None = None,
) -> None:
    """Extend the lease by `lease_seconds` from now and record progress (fraction 0..1).

    `progress=None` keeps the stored progress, and so do `steps_per_second` (the worker's
    measured speed) and `eta_seconds` (the time left at that speed) for theirs; `message`
    always replaces the stored one.
    Raises LeaseLost if `worker_id` does not hold the job (another worker took it over after
    the lease expired, or it is finished).
    """
    if progress is not None and not 0.0 <= progress <= 1.0:
        raise ValueError(f"progress is a fraction in [0, 1], got {progress}")
    _require_writer(session_factory)
    at = _utc((now or utc_now)())
    values: dict[str, Any] = {
        "lease_expires": at + dt.timedelta(seconds=lease_seconds),
        "message": message,
    }
    for column, value in (
        ("progress", progress),
        ("steps_per_second", steps_per_second),
        ("eta_seconds", eta_seconds),
    ):
        if value is not None:
            values[column] = value
    _update_owned(session_factory, job_id, worker_id, values, action="heartbeat")


def renew(
    session_factory: sessionmaker[Session],
    job_id: int,
    worker_id: str,
    lease_seconds: float,
    now: Clock | None = None,
) -> None:
    """Extend the lease by `lease_seconds` from now, keeping progress and message: the worker's
    heartbeat thread, which runs whatever the handler is doing (a long step, a slow corpus
    read). LeaseLost if `worker_id` does not hold the job."""
    _require_writer(session_factory)
    at = _utc((now or utc_now)())
    values = {"lease_expires": at + dt.timedelta(seconds=lease_seconds)}
    _update_owned(session_factory, job_id, worker_id, values, action="renew the lease of")


def finish(
    session_factory: sessionmaker[Session],
    job_id: int,
    worker_id: str,
    ok: bool,
    message: str | None,
) -> None:
    """Mark the job done (ok) or failed, with `message`; releases the run for its next job.

    Raises LeaseLost if `worker_id` does not hold the job. `lease_owner` is kept as the record
    of who ran it.
    """
    _require_writer(session_factory)
    values: dict[str, Any] = {
        "status": JobStatus.DONE if ok else JobStatus.FAILED,
        "message": message,
        "lease_expires": None,
        "eta_seconds": None,
    }
    if ok:
        values["progress"] = 1.0
    _update_owned(session_factory, job_id, worker_id, values, action="finish")


def mergeable(session: Session, job_id: int) -> list[JobInfo]:
    """The queued jobs that `merge` could fold into job `job_id`: same kind and run, newer, not
    merged yet; oldest first."""
    job = session.get(Job, job_id)
    if job is None or job.run_key is None:
        return []
    query = (
        select(Job)
        .where(
            Job.kind == job.kind,
            Job.run_key == job.run_key,
            Job.id > job.id,
            Job.status == JobStatus.QUEUED,
            Job.merged_into.is_(None),
        )
        .order_by(Job.id)
    )
    return [_info(j) for j in session.execute(query).scalars()]


def merge(
    session_factory: sessionmaker[Session],
    job_id: int,
    worker_id: str,
    others: Sequence[int],
    lease_seconds: float,
    now: Clock | None = None,
) -> list[JobInfo]:
    """Fold the queued jobs `others` (from `mergeable`) into job `job_id`, which `worker_id`
    holds: they become running under its lease. Returns every job merged into `job_id` (those
    of an earlier attempt too), oldest first. LeaseLost if `worker_id` does not hold it."""
    _require_writer(session_factory)
    at = _utc((now or utc_now)())
    values = {
        "status": JobStatus.RUNNING,
        "lease_owner": worker_id,
        "lease_expires": at + dt.timedelta(seconds=lease_seconds),
    }
    _update_owned(session_factory, job_id, worker_id, values, action="merge jobs into")
    with session_scope(session_factory) as session:
        # Those of an earlier attempt (a worker that died) come under this worker's lease too.
        session.execute(
            update(Job)
            .where(Job.merged_into == job_id)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        if others:
            session.execute(
                update(Job)
                .where(Job.id.in_(list(others)), Job.status == JobStatus.QUEUED)
                .values(merged_into=job_id, **values)
                .execution_options(synchronize_session=False)
            )
        members = session.execute(
            select(Job).where(Job.merged_into == job_id).order_by(Job.id)
        ).scalars()
        return [_info(j) for j in members]


# ---------------------------------------------------------------------------------------------
# Reads


def job_status(session: Session, job_id: int) -> JobInfo:
    job = session.get(Job, job_id)
    if job is None:
        raise LookupError(f"no job {job_id} in the ledger; check the job id or the database URL")
    return _info(job)


def list_jobs(session: Session, status: JobStatus | None = None) -> pd.DataFrame:
    """Jobs oldest first (columns JOB_COLUMNS; status as its string value, times in UTC)."""
    query = select(Job).order_by(Job.id)
    if status is not None:
        query = query.where(Job.status == status)
    rows = [_info(job) for job in session.execute(query).scalars()]
    frame = pd.DataFrame(
        [
            (
                j.id,
                j.kind,
                j.status.value,
                j.run_key,
                j.progress,
                j.message,
                j.lease_owner,
                j.lease_expires,
                j.merged_into,
                j.steps_per_second,
                j.eta_seconds,
                j.created,
                j.updated,
            )
            for j in rows
        ],
        columns=JOB_COLUMNS,
    )
    return frame.astype(
        {
            "id": "int64",
            "progress": "float64",
            "merged_into": "Int64",
            "steps_per_second": "float64",
            "eta_seconds": "float64",
        }
    )


# ---------------------------------------------------------------------------------------------
# Helpers


def _claimable(at: dt.datetime) -> ColumnElement[bool]:
    older = aliased(Job)
    # NULL run_key compares unknown, so a job without a run never has an older sibling.
    # ix_jobs_run_key (run_key, id) answers this per candidate.
    older_unfinished = exists().where(
        older.run_key == Job.run_key,
        older.id < Job.id,
        older.status.in_([JobStatus.QUEUED, JobStatus.RUNNING]),
    )
    return and_(
        or_(
            Job.status == JobStatus.QUEUED,
            and_(Job.status == JobStatus.RUNNING, Job.lease_expires < at),
        ),
        ~older_unfinished,
    )


def _update_owned(
    session_factory: sessionmaker[Session],
    job_id: int,
    worker_id: str,
    values: dict[str, Any],
    *,
    action: str,
) -> None:
    with session_scope(session_factory) as session:
        result = session.execute(
            update(Job)
            .where(
                Job.id == job_id,
                Job.lease_owner == worker_id,
                Job.status == JobStatus.RUNNING,
            )
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount == 1:
            # The jobs merged into this one share its lease and outcome.
            session.execute(
                update(Job)
                .where(Job.merged_into == job_id)
                .values(**values)
                .execution_options(synchronize_session=False)
            )
            return
        job = session.get(Job, job_id)
    if job is None:
        raise LookupError(f"no job {job_id} in the ledger (worker {worker_id!r} tried to {action})")
    if job.status != JobStatus.RUNNING:
        raise LeaseLost(
            f"worker {worker_id!r} cannot {action} job {job_id}: it is already "
            f"{job.status.value} (finished by {job.lease_owner!r})"
        )
    raise LeaseLost(
        f"worker {worker_id!r} cannot {action} job {job_id}: worker {job.lease_owner!r} holds "
        "its lease. Usually the lease expired because the handler reported progress less often "
        "than lease_seconds, and another worker took the job over; report more often or raise "
        "lease_seconds."
    )


def _require_writer(factory: sessionmaker[Session]) -> None:
    bind = factory.kw.get("bind")
    if bind is not None and not bind.get_execution_options().get(WRITE_OPTION, False):
        # On SQLite a read session's deferred BEGIN fails with "database is locked" when it
        # upgrades to a write while another connection writes.
        raise ValueError(
            "job writes need a write session factory: pass make_sessionmaker(engine, write=True)"
        )


def _utc(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None:
        raise ValueError(f"times must be timezone-aware (UTC), got naive {value}")
    return value.astimezone(dt.UTC)


def _read_utc(value: dt.datetime | None) -> dt.datetime | None:
    # SQLite returns the stored UTC time without its zone; PostgreSQL returns it aware.
    if value is None:
        return None
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def _info(job: Job) -> JobInfo:
    created = _read_utc(job.created)
    updated = _read_utc(job.updated)
    assert created is not None and updated is not None
    return JobInfo(
        id=job.id,
        kind=job.kind,
        status=job.status,
        payload=dict(job.payload),
        run_key=job.run_key,
        progress=job.progress,
        message=job.message,
        lease_owner=job.lease_owner,
        lease_expires=_read_utc(job.lease_expires),
        merged_into=job.merged_into,
        steps_per_second=job.steps_per_second,
        eta_seconds=job.eta_seconds,
        created=created,
        updated=updated,
    )


def open_jobs(session: Session, kind: str) -> pd.DataFrame:
    """Queued and running jobs of one kind, oldest first: id, status, run_key, targets (the
    payload's targets file, or None)."""
    rows = session.execute(
        select(Job.id, Job.status, Job.payload)
        .where(Job.kind == kind, Job.status.in_(("queued", "running")))
        .order_by(Job.id)
    ).all()
    return pd.DataFrame(
        [
            (id_, status.value, (payload or {}).get("run_key"), (payload or {}).get("targets"))
            for id_, status, payload in rows
        ],
        columns=["id", "status", "run_key", "targets"],
    )
