"""Run and target rows by key, for the db package's own modules only.

These return ORM rows, so nothing outside db/ imports them (the store is closed: repository
functions hand out dataclasses and DataFrames). A missing key is a LookupError that names what
the ledger does hold.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import Run, Target


def run_row(session: Session, run_key: str) -> Run:
    run = session.execute(select(Run).where(Run.run_key == run_key)).scalar_one_or_none()
    if run is None:
        known = session.execute(select(Run.run_key).order_by(Run.id.desc()).limit(5)).scalars()
        raise LookupError(
            f"no run {run_key!r} in the ledger (latest runs: {list(known) or 'none'}); "
            "check the run key or the database URL"
        )
    return run


def target_row(session: Session, run: Run, target_key: str) -> Target:
    target = session.execute(
        select(Target).where(Target.run_id == run.id, Target.target_key == target_key)
    ).scalar_one_or_none()
    if target is None:
        known = session.execute(
            select(Target.target_key).where(Target.run_id == run.id).order_by(Target.id)
        ).scalars()
        raise LookupError(
            f"run {run.run_key!r} has no target {target_key!r} (its targets: {list(known)})"
        )
    return target
