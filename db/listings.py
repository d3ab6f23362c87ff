"""The ledger's contents summarised for the UI: how much it holds and the lists of corpora,
runs and targets, as DataFrames.

Reference targets (origin `reference`, DESIGN 2.4b) are the contrast of "specific" values, not
something a user asked about: these summaries leave them out. A run's recipe is handed back as
opaque JSON (provenance/run_list.py reads it).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db.models import Corpus, Document, DocumentValue, Job, Run, RunStatus, Target, TargetOrigin

CORPUS_COLUMNS = ["id", "path", "sha256", "documents", "chunks", "tokens", "created"]
RUN_COLUMNS = [
    "run_key",
    "kind",
    "status",
    "committed_step",
    "parent",
    "corpus",
    "recipe",  # the stored recipe JSON, unread
    "targets",
    "created",
    "updated",
]
TARGET_COLUMNS = ["run_key", "target_key", "origin", "text", "prompt", "run_status", "attributed"]


@dataclass(frozen=True)
class Totals:
    """How much the ledger holds; all zero for an empty ledger."""

    corpora: int
    documents: int
    runs: int
    targets: int  # user targets (reference targets not counted)
    values: int  # (run, target, document) value rows
    jobs_open: int  # queued or running


def totals(session: Session) -> Totals:
    def count(query) -> int:
        return int(session.execute(query).scalar_one())

    return Totals(
        corpora=count(select(func.count()).select_from(Corpus)),
        documents=count(select(func.count()).select_from(Document)),
        runs=count(select(func.count()).select_from(Run)),
        targets=count(
            select(func.count()).select_from(Target).where(Target.origin != TargetOrigin.REFERENCE)
        ),
        values=count(select(func.count()).select_from(DocumentValue)),
        jobs_open=count(
            select(func.count()).select_from(Job).where(Job.status.in_(("queued", "running")))
        ),
    )


def list_corpora(session: Session) -> pd.DataFrame:
    """Every corpus, newest first (columns CORPUS_COLUMNS)."""
    rows = session.execute(
        select(
            Corpus.id,
            Corpus.path,
            Corpus.sha256,
            Corpus.n_documents,
            Corpus.n_chunks,
            Corpus.n_tokens,
            Corpus.created,
        ).order_by(Corpus.id.desc())
    ).all()
    return pd.DataFrame(rows, columns=CORPUS_COLUMNS)


def list_runs(session: Session) -> pd.DataFrame:
    """Every run, newest first (columns RUN_COLUMNS); `recipe` is the stored JSON, unread,
    `targets` counts user targets only."""
    n_targets = (
        select(Target.run_id, func.count().label("n"))
        .where(Target.origin != TargetOrigin.REFERENCE)
        .group_by(Target.run_id)
        .subquery()
    )
    parents = dict(session.execute(select(Run.id, Run.run_key)).all())  # id -> key, no self-join
    rows = session.execute(
        select(Run, Corpus.path, n_targets.c.n)
        .outerjoin(Corpus, Corpus.id == Run.corpus_id)
        .outerjoin(n_targets, n_targets.c.run_id == Run.id)
        .order_by(Run.id.desc())
    ).all()
    records = [
        (
            run.run_key,
            run.kind.value,
            "interrupted" if run.interrupted_at is not None else run.status.value,
            run.committed_step,
            parents.get(run.parent_run_id),
            corpus_path,
            run.recipe,
            int(n or 0),
            run.created,
            run.updated,
        )
        for run, corpus_path, n in rows
    ]
    return pd.DataFrame(records, columns=RUN_COLUMNS)


def list_targets(session: Session, run_key: str | None = None) -> pd.DataFrame:
    """User targets of one run (or of all runs), oldest first (columns TARGET_COLUMNS).

    `origin`: uploaded (the user's text), generated (a model's output), file (a training run's
    targets file). `attributed` is True only when the target's attribution is complete: its
    run is done and the ledger holds its values (a running replay's partial values are not).
    """
    has_values = (
        select(DocumentValue.target_id).where(DocumentValue.target_id == Target.id).exists()
    )
    query = (
        select(
            Run.run_key,
            Target.target_key,
            Target.origin,
            Target.text,
            Target.prompt,
            Run.status,
            has_values,
        )
        .join(Run, Run.id == Target.run_id)
        .where(Target.origin != TargetOrigin.REFERENCE)
        .order_by(Run.id, Target.id)
    )
    if run_key is not None:
        query = query.where(Run.run_key == run_key)
    rows = [
        (
            r,
            t,
            origin.value,
            text,
            prompt,
            status.value,
            bool(attributed) and status is RunStatus.DONE,
        )
        for r, t, origin, text, prompt, status, attributed in session.execute(query).all()
    ]
    return pd.DataFrame(rows, columns=TARGET_COLUMNS)
