"""The worker loop behind `provenance worker`: claim a job, check its payload, run its handler,
finish it.

Before running a job the worker reads its payload into the kind's type
(provenance/jobs/payloads.py); a payload that does not fit (written by another client, or by an
older version) fails the job with "PayloadError: " and what to fix, without running anything.

A handler is `handler(payload, report)`; it calls `report(progress, message)` (progress a fraction
0..1) at least once per `lease_seconds`, which records the progress and extends the lease. A
handler that stays silent longer loses its job to the next worker that claims (the lease
expiry is how a crashed worker is detected), and its next `report` raises `LeaseLost`.

A handler that returns marks the job done; one that raises marks it failed with
"ExceptionType: message", logged with its traceback. A job taken over by another worker is
left to that worker.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from db.jobs import JobInfo, LeaseLost, claim, finish, heartbeat
from provenance.jobs.payloads import JobKind, PayloadError, read_payload

log = logging.getLogger(__name__)

Report = Callable[[float, str | None], None]
# handler(payload, report), payload of the type of the kind it is registered for (a TrainJob for
# JobKind.TRAIN, ...); typed Any because a Mapping cannot pair each key with its own type.
Handler = Callable[[Any, Report], None]


def run_worker(
    session_factory: sessionmaker[Session],
    handlers: Mapping[JobKind, Handler],
    worker_id: str,
    poll_seconds: float = 1.0,
    lease_seconds: float = 30.0,
    once: bool = False,
    stop: threading.Event | None = None,
) -> int:
    """Run jobs of the kinds in `handlers` until `stop` is set; returns the jobs finished.

    `once=True` runs at most one job and returns when none is queued instead of polling.
    `poll_seconds` is the wait between claims while the queue is empty. `session_factory`
    comes from `make_sessionmaker(engine, write=True)`.
    """
    if not handlers:
        raise ValueError("run_worker needs at least one handler (JobKind -> function)")
    stop = stop or threading.Event()
    kinds = sorted(JobKind(kind).value for kind in handlers)
    finished = 0
    while not stop.is_set():
        job = claim(session_factory, worker_id, lease_seconds, kinds=kinds)
        if job is None:
            if once:
                break
            stop.wait(poll_seconds)
            continue
        handler = handlers[JobKind(job.kind)]
        finished += _run_one(session_factory, handler, job, worker_id, lease_seconds)
        if once:
            break
    return finished


def _run_one(
    session_factory: sessionmaker[Session],
    handler: Handler,
    job: JobInfo,
    worker_id: str,
    lease_seconds: float,
) -> int:
    def report(progress: float, message: str | None) -> None:
        heartbeat(session_factory, job.id, worker_id, progress, message, lease_seconds)

    try:
        payload = read_payload(job.kind, job.payload)
    except PayloadError as err:
        # Bad input, not a bug of the worker: the message says what to fix, no traceback.
        log.warning("worker %s: job %d (%s) refused: %s", worker_id, job.id, job.kind, err)
        return _finish(session_factory, job, worker_id, ok=False, message=_describe(err))
    log.info("worker %s: job %d (%s) started", worker_id, job.id, job.kind)
    try:
        handler(payload, report)
    except LeaseLost as err:
        log.warning("worker %s: gave up job %d: %s", worker_id, job.id, err)
        return 0
    except Exception as err:
        log.exception("worker %s: job %d (%s) failed", worker_id, job.id, job.kind)
        return _finish(session_factory, job, worker_id, ok=False, message=_describe(err))
    log.info("worker %s: job %d (%s) done", worker_id, job.id, job.kind)
    return _finish(session_factory, job, worker_id, ok=True, message=None)


def _finish(
    session_factory: sessionmaker[Session],
    job: JobInfo,
    worker_id: str,
    *,
    ok: bool,
    message: str | None,
) -> int:
    try:
        finish(session_factory, job.id, worker_id, ok, message)
    except LeaseLost as err:
        # Another worker took the job over while this one ran it; its outcome stands.
        log.warning("worker %s: result of job %d discarded: %s", worker_id, job.id, err)
        return 0
    return 1


def _describe(err: Exception) -> str:
    text = str(err)
    return f"{type(err).__name__}: {text}" if text else type(err).__name__
