"""Queue a typed job: the one way the UI (and any client of this package) adds a job."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from db import jobs
from db.session import session_scope
from provenance.jobs.payloads import PAYLOAD_TYPES, JobPayload, PayloadError


def enqueue(ledger: Session | sessionmaker[Session], payload: JobPayload) -> int:
    """Check `payload` and queue it for `provenance worker`; returns the job's id.

    `ledger`: a session (the caller's transaction commits the job) or a write session factory
    (`make_sessionmaker(engine, write=True)`; the job is committed here). The payload is read
    back from its JSON exactly as the worker will read it, so a payload the worker would refuse
    raises PayloadError here and no row is written.
    """
    if not isinstance(payload, tuple(PAYLOAD_TYPES.values())):
        raise PayloadError(
            f"a job payload is a TrainJob or an AttributeJob, not {type(payload).__name__}"
        )
    data = payload.to_json()
    type(payload).from_json(data)
    if isinstance(ledger, Session):
        return jobs.enqueue(ledger, payload.kind.value, data).id
    with session_scope(ledger) as session:
        return jobs.enqueue(session, payload.kind.value, data).id
