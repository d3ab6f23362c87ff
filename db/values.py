"""Writes of a run's values: each target's absolute document values (with their ranks and the
sums of positive values), per-visit values, trajectory snapshots and efficiency points.

Every function takes a Session (the caller owns the transaction). Values are in nats;
positive = the document lowered the target's loss; "raw" is the plain Shapley value,
"specific" the target-specific (contrastive) one. Writes are absolute and replace what was
there, so repeating a write leaves the ledger identical. A target's value rows go through the
session's own DBAPI connection in one bulk statement on both databases (SQLite executemany,
PostgreSQL binary COPY; db/README.md has the measurements).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import delete, func, insert, select, true
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from db.lookup import run_row, target_row
from db.models import (
    KEY_STRIDE,
    RANK_INDEXED,
    Document,
    DocumentValue,
    EfficiencyPoint,
    FusedRank,
    Run,
    Target,
    ValueSnapshot,
    VisitValues,
    value_key,
)


@dataclass(frozen=True)
class EfficiencyRecord:
    """One step's efficiency check for one target (nats)."""

    step: int
    target_key: str
    values_sum: float  # sum of all documents' values at this step
    predicted_drop: float  # first-order predicted drop of the target loss
    target_loss: float  # measured target loss before the step
    decay_drop: float | None = None  # the part of predicted_drop weight decay made; None: unknown


@dataclass(frozen=True)
class Visits:
    """Per-visit values at one step for one target: `values[i]` belongs to `document_ids[i]`."""

    step: int
    document_ids: np.ndarray = field(repr=False)  # int64, documents.id
    values: np.ndarray = field(repr=False)  # float64, nats


# ---------------------------------------------------------------------------------------------
# Writes: absolute values, visits, efficiency


def write_document_values(
    session: Session,
    run_key: str,
    target_key: str,
    document_ids: Sequence[int] | np.ndarray,
    raw: Sequence[float] | np.ndarray,
    specific: Sequence[float] | np.ndarray,
) -> None:
    """Replace all values of (run, target) with these absolute cumulative values (nats).

    Also stores each row's ranks and the exact sums of positive values on the target (the
    "share" denominator). Every document id must belong to the run's corpus.
    """
    ids = np.asarray(document_ids, dtype=np.int64)
    raw_a = np.asarray(raw, dtype=np.float64)
    spec_a = np.asarray(specific, dtype=np.float64)
    if not (ids.shape == raw_a.shape == spec_a.shape) or ids.ndim != 1:
        raise ValueError(
            f"document_ids, raw and specific must be 1-D and equally long; got shapes "
            f"{ids.shape}, {raw_a.shape}, {spec_a.shape}"
        )
    if not (np.isfinite(raw_a).all() and np.isfinite(spec_a).all()):
        raise ValueError(f"values for target {target_key!r} contain NaN or infinity")
    run = run_row(session, run_key)
    target = target_row(session, run, target_key)
    order = np.argsort(ids, kind="stable")
    ids, raw_a, spec_a = ids[order], raw_a[order], spec_a[order]
    if len(ids) and (np.diff(ids) == 0).any():
        raise ValueError(f"values for target {target_key!r} name a document id twice")
    _check_documents(session, run, ids)
    low = value_key(target.id, 0)
    session.execute(
        delete(DocumentValue).where(DocumentValue.id >= low, DocumentValue.id < low + KEY_STRIDE)
    )
    # Fused ranks were computed from the values being replaced (db/fused_ranks.py).
    session.execute(delete(FusedRank).where(FusedRank.target_id == target.id))
    if len(ids):
        _insert_values(session, target.id, ids, raw_a, spec_a)
    target.raw_positive_total = math.fsum(raw_a[raw_a > 0].tolist())
    target.specific_positive_total = math.fsum(spec_a[spec_a > 0].tolist())
    session.flush()


def _check_documents(session: Session, run: Run, ids: np.ndarray) -> None:
    """Raise unless every id (sorted, unique) is a document of the run's corpus.

    document_values.document_id has no foreign key (see DocumentValue); this is its check.
    A corpus's documents are inserted together, so their ids are usually one contiguous range
    and the check is a comparison; otherwise the corpus's ids are read once.
    """
    if not len(ids):
        return
    scope = Document.corpus_id == run.corpus_id if run.corpus_id is not None else true()
    low, high, count = session.execute(
        select(func.min(Document.id), func.max(Document.id), func.count()).where(scope)
    ).one()
    if count and high - low + 1 == count:
        unknown = ids[(ids < low) | (ids > high)]
    else:
        known = np.fromiter(session.execute(select(Document.id).where(scope)).scalars(), np.int64)
        unknown = ids[~np.isin(ids, known)]
    if len(unknown):
        raise LookupError(
            f"run {run.run_key!r}: {len(unknown)} document id(s) are not documents of its corpus "
            f"(first: {unknown[:5].tolist()}); look the ids up with document_ids(session, "
            "corpus_id)"
        )


# The bulk writers' statements, plain literals; rows come from _value_rows in this column order.
_SQLITE_INSERT_VALUES = (
    "INSERT INTO document_values "
    "(id, target_id, document_id, raw, specific, rank_raw, rank_specific, tail) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
_POSTGRESQL_COPY_VALUES = (
    "COPY document_values "
    "(id, target_id, document_id, raw, specific, rank_raw, rank_specific, tail) "
    "FROM STDIN (FORMAT BINARY)"
)


def _insert_values(
    session: Session,
    target_id: int,
    ids: np.ndarray,  # int64 (N,), ascending
    raw: np.ndarray,  # float64 (N,)
    specific: np.ndarray,  # float64 (N,)
) -> None:
    """Insert one target's value rows through the session's own DBAPI connection.

    A target carries up to a million rows per commit, so the ORM and Core executemany (a dict
    and bind processing per row) dominate the write; see db/README.md for the measurements.
    Both paths run on the connection the session already holds, so the rows commit or roll
    back with the session's transaction. Rows go in document-id order, so their keys grow and
    each row is appended to the table's B-tree.
    """
    connection = session.connection()
    dbapi_error = connection.dialect.loaded_dbapi.Error
    cursor = connection.connection.driver_connection.cursor()
    rows = _value_rows(target_id, ids, raw, specific)
    try:
        if connection.dialect.name == "postgresql":
            _copy_values_postgresql(cursor, rows)
        else:
            # Python floats are the float64 values themselves: sqlite3 binds them as REAL.
            cursor.executemany(_SQLITE_INSERT_VALUES, rows)
    except dbapi_error as err:
        # The same exception classes (IntegrityError, ...) the Core insert raised, with the
        # parameters hidden as on the engine.
        raise DBAPIError.instance(
            "INSERT INTO document_values", None, err, dbapi_error, hide_parameters=True
        ) from err
    finally:
        cursor.close()


def _copy_values_postgresql(cursor: Any, rows: Iterable[tuple]) -> None:
    # COPY in binary format: float8 travels as its 8 IEEE bytes, so no value is rounded
    # through text, and the server parses no statement per row. Measured against psycopg's
    # executemany in db/README.md ("Bulk value writes").
    with cursor.copy(_POSTGRESQL_COPY_VALUES) as copy:
        copy.set_types(["int8", "int4", "int4", "float8", "float8", "int4", "int4", "bool"])
        for row in rows:
            copy.write_row(row)


def _value_rows(
    target_id: int, ids: np.ndarray, raw: np.ndarray, specific: np.ndarray
) -> Iterable[tuple[int, int, int, float, float, int, int, bool]]:
    """Rows in the bulk statements' column order, for ids in ascending order; Python floats
    are the float64 values themselves."""
    n = len(ids)
    rank_raw, rank_specific = value_ranks(ids, raw), value_ranks(ids, specific)
    tail = (
        (rank_raw <= RANK_INDEXED)
        | (rank_raw > n - RANK_INDEXED)
        | (rank_specific <= RANK_INDEXED)
        | (rank_specific > n - RANK_INDEXED)
    )
    return zip(
        (ids + value_key(target_id, 0)).tolist(),
        [target_id] * n,
        ids.tolist(),
        raw.tolist(),
        specific.tolist(),
        rank_raw.tolist(),
        rank_specific.tolist(),
        tail.tolist(),
        strict=True,
    )


def value_ranks(ids: np.ndarray, values: np.ndarray) -> np.ndarray:
    """1-based rank of each row by value descending, ties by document id descending.

    `ids` must be ascending: a stable ascending sort then orders ties by id ascending, and its
    reverse is the ranking order.
    """
    order = np.argsort(values, kind="stable")[::-1]
    ranks = np.empty(len(values), dtype=np.int64)
    ranks[order] = np.arange(1, len(values) + 1)
    return ranks


def pack_visits(document_ids: np.ndarray, values: np.ndarray) -> bytes:
    """The `visit_values.payload` layout: n little-endian float64 values, then n int64 ids."""
    ids = np.asarray(document_ids)
    vals = np.asarray(values)
    if ids.shape != vals.shape or ids.ndim != 1:
        raise ValueError(f"ids and values must be 1-D and equally long: {ids.shape} {vals.shape}")
    return vals.astype("<f8", copy=False).tobytes() + ids.astype("<i8", copy=False).tobytes()


def unpack_visits(payload: bytes, n_rows: int) -> tuple[np.ndarray, np.ndarray]:
    """Inverse of pack_visits: (document_ids int64, values float64)."""
    if len(payload) != 16 * n_rows:
        raise ValueError(f"visit payload is {len(payload)} bytes, expected {16 * n_rows}")
    values = np.frombuffer(payload, dtype="<f8", count=n_rows).astype(np.float64)
    ids = np.frombuffer(payload, dtype="<i8", count=n_rows, offset=8 * n_rows).astype(np.int64)
    return ids, values


def write_visits(
    session: Session,
    run_key: str,
    target_key: str,
    step: int,
    document_ids: np.ndarray,
    values: np.ndarray,
) -> None:
    """Store (replace) the per-visit values of one step for one target."""
    key = _clear_step(session, VisitValues, run_key, target_key, step)
    payload = pack_visits(document_ids, values)
    session.execute(insert(VisitValues), [{**key, "n_rows": len(document_ids), "payload": payload}])


def _clear_step(session: Session, model: type, run_key: str, target_key: str, step: int) -> dict:
    """Delete the rows of `model` for (run, target, step) and return that key, for a replace."""
    run = run_row(session, run_key)
    target = target_row(session, run, target_key)
    key = {"run_id": run.id, "target_id": target.id, "step": step}
    session.execute(delete(model).filter_by(**key))
    return key


def write_snapshots(
    session: Session,
    run_key: str,
    target_key: str,
    step: int,
    document_ids: np.ndarray,
    values: np.ndarray,
) -> None:
    """Store (replace) cumulative values of the top documents of (run, target) after `step`."""
    key = _clear_step(session, ValueSnapshot, run_key, target_key, step)
    rows = [
        {**key, "document_id": d, "value": v}
        for d, v in zip(np.asarray(document_ids).tolist(), np.asarray(values).tolist(), strict=True)
    ]
    if rows:
        session.execute(insert(ValueSnapshot), rows)


def read_visits(session: Session, run_key: str, target_key: str) -> list[Visits]:
    """All stored per-visit values of (run, target), by step."""
    run = run_row(session, run_key)
    target = target_row(session, run, target_key)
    rows = session.execute(
        select(VisitValues.step, VisitValues.n_rows, VisitValues.payload)
        .where(VisitValues.run_id == run.id, VisitValues.target_id == target.id)
        .order_by(VisitValues.step)
    )
    return [Visits(step, *unpack_visits(payload, n)) for step, n, payload in rows]


@dataclass(frozen=True)
class DocumentVisits:
    """When one run trained on one document, over the steps the ledger holds."""

    steps: tuple[int, ...]  # 0-based steps whose rows held the document, ascending
    rows: int  # rows it filled in them (a step can hold a document more than once)


def document_visits(session: Session, run_key: str, doc_key: str) -> DocumentVisits | None:
    """The committed steps of the run that trained on `doc_key` (of the run's corpus; empty:
    never trained on so far), read from the per-visit values of one of the run's targets
    (every target's payload lists the same rows). None when the run recorded no visits (it
    has no targets). LookupError when the corpus has no such document."""
    run = run_row(session, run_key)
    document_id = session.execute(
        select(Document.id).where(Document.corpus_id == run.corpus_id, Document.doc_key == doc_key)
    ).scalar_one_or_none()
    if document_id is None:
        raise LookupError(f"run {run_key!r} has no document {doc_key!r} in its corpus")
    target_id = session.execute(
        select(func.min(VisitValues.target_id)).where(VisitValues.run_id == run.id)
    ).scalar()
    if target_id is None:
        return None
    steps, rows = [], 0
    for step, n, payload in session.execute(
        select(VisitValues.step, VisitValues.n_rows, VisitValues.payload)
        .where(VisitValues.run_id == run.id, VisitValues.target_id == target_id)
        .order_by(VisitValues.step)
    ):
        hits = int(np.count_nonzero(unpack_visits(payload, n)[0] == document_id))
        if hits:
            steps.append(step)
            rows += hits
    return DocumentVisits(tuple(steps), rows)


def trained_count(session: Session, run_key: str) -> int | None:
    """How many documents of its corpus the run trained on so far: the value rows of its first
    target (every target has a row for each document a step used); None without targets."""
    run = run_row(session, run_key)
    target_id = session.execute(select(func.min(Target.id)).where(Target.run_id == run.id)).scalar()
    if target_id is None:
        return None
    low = value_key(target_id, 0)
    return int(
        session.execute(
            select(func.count())
            .select_from(DocumentValue)
            .where(DocumentValue.id >= low, DocumentValue.id < low + KEY_STRIDE)
        ).scalar_one()
    )


def write_efficiency(session: Session, run_key: str, records: Sequence[EfficiencyRecord]) -> None:
    """Store (replace) efficiency points of a run, keyed by (step, target)."""
    run = run_row(session, run_key)
    ids = dict(
        session.execute(select(Target.target_key, Target.id).where(Target.run_id == run.id)).all()
    )
    missing = sorted({r.target_key for r in records} - ids.keys())
    if missing:
        raise LookupError(f"run {run_key!r} has no targets {missing}")
    steps = sorted({r.step for r in records})
    if steps:
        session.execute(
            delete(EfficiencyPoint).where(
                EfficiencyPoint.run_id == run.id, EfficiencyPoint.step.in_(steps)
            )
        )
        session.execute(
            insert(EfficiencyPoint),
            [
                {
                    "run_id": run.id,
                    "step": r.step,
                    "target_id": ids[r.target_key],
                    "values_sum": r.values_sum,
                    "predicted_drop": r.predicted_drop,
                    "target_loss": r.target_loss,
                    "decay_drop": r.decay_drop,
                }
                for r in records
            ],
        )
