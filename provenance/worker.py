"""The worker loop behind `provenance worker`: claim a job, check its payload, run its handler,
finish it.

Before running a job the worker reads its payload into the kind's type
(provenance/jobs/payloads.py); a payload that does not fit (written by another client, or by an
older version) fails the job with "PayloadError: " and what to fix, without running anything.

A handler is `handler(payload, report)`; it calls `report(progress, message)` (progress a
fraction 0..1, optionally with the measured steps per second and seconds left) to record it;
`report.job` is the claimed job (its id and creation time name the run the job makes, so a
worker that takes over a dead worker's job resumes that run from its last checkpoint instead
of starting another). The lease is renewed by a heartbeat thread every
`lease_seconds / 3`, whatever the handler is doing, so a live worker never loses its job however
long a step or a checkpoint takes; only a worker that died (or stalled a whole lease: frozen,
cut off from the database) does. Its next `report` then raises `LeaseLost` and it stops.
`report.merge` folds other queued jobs of the same run into the claimed one (merged replays,
provenance/jobs/merging.py); they share its lease, progress and outcome.

A handler that returns marks the job done; one that raises marks it failed with
"ExceptionType: message", logged with its traceback. A job taken over by another worker is
left to that worker.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from db.jobs import JobInfo, LeaseLost, claim, finish, heartbeat, merge, mergeable, renew
from db.session import session_scope
from provenance.jobs.payloads import JobKind, PayloadError, read_payload

log = logging.getLogger(__name__)


class Report:
    """What a handler calls to report progress: `report(fraction, message)`; `report.job` is
    the job it runs. Raises LeaseLost once another worker owns the job."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        job: JobInfo,
        worker_id: str,
        lease_seconds: float,
    ) -> None:
        self.job = job
        self._factory = session_factory
        self._worker_id = worker_id
        self._lease_seconds = lease_seconds
        self._lost: LeaseLost | None = None

    def __call__(
        self,
        progress: float,
        message: str | None,
        *,
        steps_per_second: float | None = None,
        eta_seconds: float | None = None,
    ) -> None:
        if self._lost is not None:
            raise self._lost
        heartbeat(
            self._factory,
            self.job.id,
            self._worker_id,
            progress,
            message,
            self._lease_seconds,
            steps_per_second=steps_per_second,
            eta_seconds=eta_seconds,
        )

    def mergeable(self) -> list[JobInfo]:
        """The queued jobs of the same kind and run that could join this job, oldest first."""
        with session_scope(self._factory) as session:
            return mergeable(session, self.job.id)

    def merge(self, job_ids: list[int]) -> list[JobInfo]:
        """Fold the queued jobs `job_ids` into this one; returns every job merged into it (an
        earlier attempt's too), oldest first."""
        return merge(self._factory, self.job.id, self._worker_id, job_ids, self._lease_seconds)

    @contextmanager
    def heartbeat(self) -> Iterator[None]:
        """Renew the lease every lease_seconds / 3 in a daemon thread while the block runs."""
        stop = threading.Event()
        thread = threading.Thread(
            target=self._renew_until, args=(stop,), name=f"lease-{self.job.id}", daemon=True
        )
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()

    def _renew_until(self, stop: threading.Event) -> None:
        while not stop.wait(self._lease_seconds / 3):
            try:
                renew(self._factory, self.job.id, self._worker_id, self._lease_seconds)
            except LeaseLost as lost:
                self._lost = lost
                return
            except Exception as err:  # the database unreachable for a moment: try again
                log.warning("job %d: lease renewal failed (%s); retrying", self.job.id, err)


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
    report = Report(session_factory, job, worker_id, lease_seconds)
    try:
        payload = read_payload(job.kind, job.payload)
    except PayloadError as err:
        # Bad input, not a bug of the worker: the message says what to fix, no traceback.
        log.warning("worker %s: job %d (%s) refused: %s", worker_id, job.id, job.kind, err)
        return _finish(session_factory, job, worker_id, ok=False, message=_describe(err))
    log.info("worker %s: job %d (%s) started", worker_id, job.id, job.kind)
    try:
        with report.heartbeat():
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
