"""Reads of a run's values: top and bottom k, roll-ups by metadata, negative documents, one
document across targets, trajectories, step windows and the efficiency check.

Every function takes a Session and returns a DataFrame or a dataclass, never an ORM row.
Values are in nats; positive = the document lowered the target's loss. Totals shown to users
are summed in Python with `math.fsum` (exact, order-independent), never SQL SUM.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from sqlalchemy import ColumnElement, Select, select
from sqlalchemy.orm import Session

from db.lookup import run_row, target_row
from db.models import (
    KEY_STRIDE,
    RANK_INDEXED,
    Document,
    DocumentValue,
    EfficiencyPoint,
    Run,
    Target,
    TargetOrigin,
    ValueSnapshot,
    VisitValues,
    value_key,
)
from db.values import unpack_visits

RankBy = Literal["specific", "raw"]
GroupField = Literal["source", "author", "license"]
UNKNOWN = "(unknown)"  # group label for documents without the metadata field


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
    decay_drop: float | None  # the part of predicted_drop weight decay made; None: not measured

    @property
    def optimizer_terms(self) -> float | None:
        """predicted - decay - values: the applied update's part that is not the steps' credited
        values, e.g. momentum applying earlier gradients later (each gradient is credited in
        full at the step it entered); None where decay was not measured."""
        if self.decay_drop is None:
            return None
        return self.predicted_drop - self.decay_drop - self.values_sum

    @property
    def higher_order(self) -> float:
        """realised - predicted: what the first-order (Taylor) prediction misses."""
        return self.realised_drop - self.predicted_drop


TOP_COLUMNS = [
    "rank",
    "doc_key",
    "value",
    "raw_value",
    "specific_value",
    "share",
    "source",
    "title",
]


def top_documents(
    session: Session,
    run_key: str,
    target_key: str,
    k: int,
    by: RankBy = "specific",
    ascending: bool = False,
) -> pd.DataFrame:
    """The k highest-valued documents for a target (ascending=True: the k lowest).

    `value` is the ranking column; `share` is value / (sum of the target's positive values of
    that kind), so a negative document has a negative share. Ties are broken by document id.
    """
    if by not in ("specific", "raw"):
        raise ValueError(f"by must be 'specific' or 'raw', not {by!r}")
    run = run_row(session, run_key)
    target = target_row(session, run, target_key)
    rank = DocumentValue.rank_specific if by == "specific" else DocumentValue.rank_raw
    query = (
        _with_documents(
            Document.doc_key,
            DocumentValue.raw,
            DocumentValue.specific,
            Document.source,
            Document.title,
        )
        .order_by(rank.desc() if ascending else rank.asc())
        .limit(k)
    )
    if k <= RANK_INDEXED:
        # The partial rank index holds exactly these rows (SQLite uses it only when the query
        # repeats its condition); the key range would make SQLite sort the whole target.
        query = query.where(
            DocumentValue.target_id == target.id,
            DocumentValue.tail == True,  # noqa: E712 (SQL, not Python)
        )
    else:
        query = query.where(_of_target(target.id))
    rows = session.execute(query).all()
    total = target.specific_positive_total if by == "specific" else target.raw_positive_total
    frame = pd.DataFrame(
        [
            (
                i + 1,
                doc_key,
                spec if by == "specific" else raw,
                raw,
                spec,
                (spec if by == "specific" else raw) / total if total else math.nan,
                source,
                title,
            )
            for i, (doc_key, raw, spec, source, title) in enumerate(rows)
        ],
        columns=TOP_COLUMNS,
    )
    return frame.astype({"rank": "int64", "value": "float64", "share": "float64"})


def target_values(session: Session, run_key: str, target_key: str) -> pd.DataFrame:
    """Every document value of one target, best specific value first.

    Columns: doc_key, raw, specific (nats), rank_specific (1-based, the ledger's order: value
    descending, ties by document id descending), source, title. One row per document the run
    trained on; the input of rankings computed outside the ledger (fusion with word overlap).
    """
    run = run_row(session, run_key)
    target = target_row(session, run, target_key)
    query = (
        _with_documents(
            Document.doc_key,
            DocumentValue.raw,
            DocumentValue.specific,
            DocumentValue.rank_specific,
            Document.source,
            Document.title,
        )
        .where(_of_target(target.id))
        .order_by(DocumentValue.rank_specific)
    )
    return pd.DataFrame(
        session.execute(query).all(),
        columns=["doc_key", "raw", "specific", "rank_specific", "source", "title"],
    ).astype({"raw": "float64", "specific": "float64", "rank_specific": "int64"})


def rollup(
    session: Session, run_key: str, target_key: str | None, field: GroupField = "source"
) -> pd.DataFrame:
    """Values rolled up by a document metadata field ("which rights holder"), for one target
    or (None) every user target of the run.

    Columns: the field ("(unknown)" where missing), targets (how many targets the group has
    values for), documents, raw, specific (exact `math.fsum` sums, nats), share (specific over
    the sum of the positive specific values of the same rows). Sorted by specific, highest
    first. Rows are read column-wise through Core, which keeps a 100,000-document target well
    inside a page's budget. Summing several targets is a browsing aid only: each target stays
    its own game (DESIGN 2.2).
    """
    if field not in ("source", "author", "license"):
        raise ValueError(f"field must be 'source', 'author' or 'license', not {field!r}")
    run = run_row(session, run_key)
    one = target_key is not None
    # One target has one row per document: the ids are only read to count across targets.
    selected = [getattr(Document, field), DocumentValue.raw, DocumentValue.specific]
    if not one:
        selected += [DocumentValue.target_id, DocumentValue.document_id]
    query = _with_documents(*selected)
    if one:
        query = query.where(_of_target(target_row(session, run, target_key).id))
    else:
        query = query.join(Target, Target.id == DocumentValue.target_id).where(
            Target.run_id == run.id, Target.origin != TargetOrigin.REFERENCE
        )
    # Core execution on the session's connection: no ORM row processing for 100k rows.
    rows = session.connection().execute(query).fetchall()
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(selected)
    frame = pd.DataFrame(
        {
            field: pd.Series(columns[0], dtype=object).fillna(UNKNOWN),
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


def document_contributions(session: Session, run_key: str, doc_key: str) -> pd.DataFrame:
    """One document's values for every target of a run, with its rank (1 = highest specific).

    Columns: target_key, origin, raw, specific, rank_specific. Empty if the document has no
    values in the run.
    """
    run = run_row(session, run_key)
    document_id = session.execute(
        select(Document.id).where(Document.doc_key == doc_key, Document.corpus_id == run.corpus_id)
    ).scalar_one_or_none()
    columns = ["target_key", "origin", "raw", "specific", "rank_specific"]
    if document_id is None:
        return pd.DataFrame([], columns=columns).astype(
            {"raw": "float64", "specific": "float64", "rank_specific": "int64"}
        )
    targets = session.execute(
        select(Target.id, Target.target_key, Target.origin)
        .where(Target.run_id == run.id)
        .order_by(Target.id)
    ).all()
    # One primary-key lookup per target: the key packs (target, document).
    values = {
        target_id: (raw, spec, rank)
        for target_id, raw, spec, rank in session.execute(
            select(
                DocumentValue.target_id,
                DocumentValue.raw,
                DocumentValue.specific,
                DocumentValue.rank_specific,
            ).where(DocumentValue.id.in_([value_key(t.id, document_id) for t in targets]))
        )
    }
    rows = [(t.target_key, t.origin.value, *values[t.id]) for t in targets if t.id in values]
    return pd.DataFrame(rows, columns=columns).astype(
        {"raw": "float64", "specific": "float64", "rank_specific": "int64"}
    )


def negative_documents(session: Session, run_key: str, by: RankBy = "specific") -> pd.DataFrame:
    """Every (document, target) of a run whose value is negative (raised the target's loss).

    Columns: doc_key, target_key, raw, specific, source, title; most negative first.
    """
    run = run_row(session, run_key)
    column = DocumentValue.specific if by == "specific" else DocumentValue.raw
    query: Select = (
        _with_documents(
            Document.doc_key,
            Target.target_key,
            DocumentValue.raw,
            DocumentValue.specific,
            Document.source,
            Document.title,
        )
        .join(Target, Target.id == DocumentValue.target_id)
        .where(Target.run_id == run.id, column < 0)
        .order_by(column.asc(), Document.id, Target.id)
    )
    return pd.DataFrame(
        session.execute(query).all(),
        columns=["doc_key", "target_key", "raw", "specific", "source", "title"],
    ).astype({"raw": "float64", "specific": "float64"})


def _with_documents(*columns: ColumnElement) -> Select:
    """SELECT columns of value rows joined to their documents (the FROM is document_values)."""
    return (
        select(*columns)
        .select_from(DocumentValue)
        .join(Document, Document.id == DocumentValue.document_id)
    )


def _of_target(target_id: int) -> ColumnElement[bool]:
    """The value rows of one target: a range of the primary key (see DocumentValue)."""
    low = value_key(target_id, 0)
    return (DocumentValue.id >= low) & (DocumentValue.id < low + KEY_STRIDE)


def efficiency_series(session: Session, run_key: str) -> pd.DataFrame:
    """The per-step efficiency check of a run: step, target_key, values_sum, predicted_drop,
    target_loss, decay_drop (nats; decay_drop NaN where not measured), by step then target."""
    run = run_row(session, run_key)
    rows = session.execute(
        select(
            EfficiencyPoint.step,
            Target.target_key,
            EfficiencyPoint.values_sum,
            EfficiencyPoint.predicted_drop,
            EfficiencyPoint.target_loss,
            EfficiencyPoint.decay_drop,
        )
        .join(Target, Target.id == EfficiencyPoint.target_id)
        .where(EfficiencyPoint.run_id == run.id)
        .order_by(EfficiencyPoint.step, Target.id)
    ).all()
    columns = ["step", "target_key", "values_sum", "predicted_drop", "target_loss", "decay_drop"]
    return pd.DataFrame(rows, columns=columns).astype(
        {
            "step": "int64",
            "values_sum": "float64",
            "predicted_drop": "float64",
            "target_loss": "float64",
            "decay_drop": "float64",
        }
    )


def trajectories(session: Session, run_key: str, target_key: str) -> pd.DataFrame:
    """Snapshots of (run, target): step, doc_key, value (cumulative nats), by document, step."""
    run = run_row(session, run_key)
    target = target_row(session, run, target_key)
    rows = session.execute(
        select(ValueSnapshot.step, Document.doc_key, ValueSnapshot.value)
        .join(Document, Document.id == ValueSnapshot.document_id)
        .where(ValueSnapshot.run_id == run.id, ValueSnapshot.target_id == target.id)
        .order_by(Document.doc_key, ValueSnapshot.step)
    ).all()
    return pd.DataFrame(rows, columns=["step", "doc_key", "value"]).astype(
        {"step": "int64", "value": "float64"}
    )


def window_sums(
    session: Session,
    run_key: str,
    target_keys: Sequence[str],
    first_step: int,
    last_step: int,
) -> pd.DataFrame:
    """Values earned in steps first_step..last_step (inclusive) only, e.g. the last epoch,
    for these targets of the run: the raw per-visit values summed per (document, target) with
    math.fsum (exact). Columns doc_key, target_key, value (nats), by target then doc_key; a
    document not visited in the window has no row. Contrasting them into specific values is
    the engine's rule (provenance.windows applies it).
    """
    if first_step > last_step:
        raise ValueError(f"empty step window {first_step}..{last_step}: first_step > last_step")
    run = run_row(session, run_key)
    keys = dict(
        session.execute(
            select(Document.id, Document.doc_key).where(Document.corpus_id == run.corpus_id)
        ).all()
    )
    rows = []
    for target_key in target_keys:
        target = target_row(session, run, target_key)
        parts: dict[int, list[float]] = {}
        for n, payload in session.execute(
            select(VisitValues.n_rows, VisitValues.payload).where(
                VisitValues.run_id == run.id,
                VisitValues.target_id == target.id,
                VisitValues.step.between(first_step, last_step),
            )
        ):
            ids, values = unpack_visits(payload, n)
            for document_id, value in zip(ids.tolist(), values.tolist(), strict=True):
                parts.setdefault(document_id, []).append(value)
        rows += sorted((keys[d], target_key, math.fsum(v)) for d, v in parts.items())
    return pd.DataFrame(rows, columns=["doc_key", "target_key", "value"]).astype(
        {"value": "float64"}
    )


def efficiency_check(session: Session, run_key: str, target_key: str) -> EfficiencyCheck | None:
    """The efficiency check of one target (see EfficiencyCheck), or None without data."""
    rows = session.execute(
        select(
            EfficiencyPoint.values_sum,
            EfficiencyPoint.predicted_drop,
            EfficiencyPoint.target_loss,
            EfficiencyPoint.decay_drop,
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
        decay_drop=(
            None if any(r[3] is None for r in matched) else math.fsum(r[3] for r in matched)
        ),
    )
