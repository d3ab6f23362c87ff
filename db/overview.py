"""Read-only summaries of the ledger for the UI: what is there, what state it is in.

Like `db.repository`, every function takes a Session and returns a DataFrame or a dataclass,
never an ORM row. Values are in nats; positive = the document lowered the target's loss.
Reference targets (origin `reference`, DESIGN 2.4b) are the contrast of "specific" values,
not something a user asked about: they are left out of every target list here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db.models import (
    Corpus,
    Document,
    DocumentValue,
    EfficiencyPoint,
    Job,
    Run,
    Target,
    TargetOrigin,
)

CORPUS_COLUMNS = ["id", "path", "sha256", "documents", "chunks", "tokens", "created"]
RUN_COLUMNS = [
    "run_key",
    "kind",
    "status",
    "committed_step",
    "total_steps",
    "parent",
    "corpus",
    "model",
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


@dataclass(frozen=True)
class DocumentDetail:
    """One document of a run's corpus, for the detail view (text as ingested, unescaped)."""

    doc_key: str
    text: str
    source: str | None
    author: str | None
    license: str | None
    title: str | None
    url: str | None
    date: str | None


@dataclass(frozen=True)
class EfficiencyCheck:
    """The efficiency check of one target over the steps the ledger holds (nats).

    Over steps first..last-1 (the loss is measured before each step, so the last step's
    outcome is unknown here): `values_sum` is the sum of every document's values,
    `predicted_drop` the first-order drop from the update actually applied, `realised_drop`
    the measured loss before the first step minus the loss before the last one.
    """

    steps: int
    values_sum: float
    predicted_drop: float
    realised_drop: float


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
    """Every run, newest first (columns RUN_COLUMNS); `total_steps` from the recipe when known,
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
    records = []
    for run, corpus_path, n in rows:
        recipe = run.recipe or {}
        records.append(
            (
                run.run_key,
                run.kind.value,
                run.status.value,
                run.committed_step,
                _total_steps(recipe),
                parents.get(run.parent_run_id),
                corpus_path,
                recipe.get("model"),
                int(n or 0),
                run.created,
                run.updated,
            )
        )
    return pd.DataFrame(records, columns=RUN_COLUMNS)


def _total_steps(recipe: dict) -> int | None:
    steps = recipe.get("steps") or recipe.get("total_steps")
    if steps is None:
        steps = (recipe.get("config") or {}).get("steps") or None
    return int(steps) if steps else None


def list_targets(session: Session, run_key: str | None = None) -> pd.DataFrame:
    """User targets of one run (or of all runs), oldest first (columns TARGET_COLUMNS).

    `attributed` is True when the target has values in the ledger.
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
        (r, t, origin.value, text, prompt, status.value, bool(attributed))
        for r, t, origin, text, prompt, status, attributed in session.execute(query).all()
    ]
    return pd.DataFrame(rows, columns=TARGET_COLUMNS)


def document_detail(session: Session, run_key: str, doc_key: str) -> DocumentDetail:
    """The document `doc_key` of the corpus the run trained on."""
    row = session.execute(
        select(
            Document.doc_key,
            Document.text,
            Document.source,
            Document.author,
            Document.license,
            Document.title,
            Document.url,
            Document.date,
        )
        .join(Run, Run.corpus_id == Document.corpus_id)
        .where(Run.run_key == run_key, Document.doc_key == doc_key)
    ).first()
    if row is None:
        raise LookupError(f"run {run_key!r} has no document {doc_key!r} in its corpus")
    return DocumentDetail(*row)


def efficiency_check(session: Session, run_key: str, target_key: str) -> EfficiencyCheck | None:
    """The efficiency check of one target (see EfficiencyCheck), or None without data."""
    rows = session.execute(
        select(
            EfficiencyPoint.values_sum, EfficiencyPoint.predicted_drop, EfficiencyPoint.target_loss
        )
        .join(Target, Target.id == EfficiencyPoint.target_id)
        .join(Run, Run.id == EfficiencyPoint.run_id)
        .where(Run.run_key == run_key, Target.target_key == target_key)
        .order_by(EfficiencyPoint.step)
    ).all()
    if len(rows) < 2:
        return None
    matched = rows[:-1]
    return EfficiencyCheck(
        steps=len(matched),
        values_sum=math.fsum(r[0] for r in matched),
        predicted_drop=math.fsum(r[1] for r in matched),
        realised_drop=rows[0][2] - rows[-1][2],
    )


def rollup(
    session: Session, run_key: str, target_key: str | None, field: str = "source"
) -> pd.DataFrame:
    """Values rolled up by a document metadata field, for one target or (None) all user targets.

    Columns: the field ("(unknown)" where missing), targets (how many targets the group has
    values for), documents, raw, specific (exact `math.fsum` sums, nats), share (specific over
    the sum of the positive specific values of the same rows). Sorted by specific, highest
    first. For one target this equals `db.repository.values_by` plus `targets`; it reads the
    rows column-wise, which keeps a 100,000-document target well inside the page's budget.
    Summing several targets is a browsing aid only: each target stays its own game (DESIGN 2.2).
    """
    if field not in ("source", "author", "license"):
        raise ValueError(f"field must be 'source', 'author' or 'license', not {field!r}")
    one = target_key is not None
    # One target has one row per document: the ids are only read to count across targets.
    selected = [getattr(Document, field), DocumentValue.raw, DocumentValue.specific]
    if not one:
        selected += [DocumentValue.target_id, DocumentValue.document_id]
    query = (
        select(*selected)
        .join(Document, Document.id == DocumentValue.document_id)
        .join(Target, Target.id == DocumentValue.target_id)
        .join(Run, Run.id == Target.run_id)
        .where(Run.run_key == run_key, Target.origin != TargetOrigin.REFERENCE)
    )
    if one:
        query = query.where(Target.target_key == target_key)
    # Core execution on the session's connection: no ORM row processing for 100k rows.
    rows = session.connection().execute(query).fetchall()
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(selected)
    frame = pd.DataFrame(
        {
            field: pd.Series(columns[0], dtype=object).fillna("(unknown)"),
            "raw": np.asarray(columns[1], dtype=np.float64),
            "specific": np.asarray(columns[2], dtype=np.float64),
        }
    )
    sums = {
        "raw": ("raw", lambda s: math.fsum(s.tolist())),
        "specific": ("specific", lambda s: math.fsum(s.tolist())),
    }
    if one:
        frame["target_id"] = 0
        grouped = frame.groupby(field, sort=False).agg(
            targets=("target_id", "nunique"), documents=("raw", "size"), **sums
        )
    else:
        frame["target_id"] = np.asarray(columns[3], dtype=np.int64)
        frame["document_id"] = np.asarray(columns[4], dtype=np.int64)
        grouped = frame.groupby(field, sort=False).agg(
            targets=("target_id", "nunique"), documents=("document_id", "nunique"), **sums
        )
    grouped = grouped.reset_index().astype(
        {"targets": "int64", "documents": "int64", "raw": "float64", "specific": "float64"}
    )
    positive = math.fsum(frame["specific"][frame["specific"] > 0].tolist())
    grouped["share"] = grouped["specific"] / positive if positive else math.nan
    return grouped.sort_values(["specific", field], ascending=[False, True], ignore_index=True)


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
