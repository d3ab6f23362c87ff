"""Reads and writes on the ledger. Every function takes a Session and returns a dataclass or a
DataFrame, never an ORM row; the caller owns the transaction (`db.session.session_scope`).

Values are in nats; positive = the document lowered the target's loss. "raw" is the plain
Shapley value, "specific" the target-specific (contrastive) one. Writes are absolute and
replace what was there, so repeating a write leaves the ledger identical. Totals shown to
users are summed in Python with `math.fsum` (exact, order-independent), never SQL SUM.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from sqlalchemy import ColumnElement, Select, delete, func, insert, select, true
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from db.models import (
    KEY_STRIDE,
    RANK_INDEXED,
    Corpus,
    Document,
    DocumentValue,
    EfficiencyPoint,
    Report,
    ReportFormat,
    Run,
    RunKind,
    RunStatus,
    Target,
    TargetOrigin,
    ValueSnapshot,
    VisitValues,
    value_key,
)

RankBy = Literal["specific", "raw"]
GroupField = Literal["source", "author", "license"]
UNKNOWN = "(unknown)"  # group label for documents without the metadata field


@dataclass(frozen=True)
class DocumentRecord:
    """One document of a corpus file, as ingested."""

    doc_key: str  # the document's id in the corpus file
    text: str
    sha256: str
    source: str | None = None
    author: str | None = None
    license: str | None = None
    url: str | None = None
    title: str | None = None
    date: str | None = None
    metadata: dict[str, Any] | None = None


@dataclass(frozen=True)
class CorpusInfo:
    id: int
    sha256: str
    path: str
    n_documents: int
    created_now: bool  # False: a corpus with this hash was already in the ledger


@dataclass(frozen=True)
class RunInfo:
    id: int
    run_key: str
    kind: RunKind
    status: RunStatus
    committed_step: int
    corpus_id: int | None


@dataclass(frozen=True)
class TargetRecord:
    target_key: str
    text: str
    origin: TargetOrigin
    prompt: str | None = None


@dataclass(frozen=True)
class TargetInfo:
    id: int
    target_key: str
    origin: TargetOrigin
    text: str
    prompt: str | None = None


@dataclass(frozen=True)
class EfficiencyRecord:
    """One step's efficiency check for one target (nats)."""

    step: int
    target_key: str
    values_sum: float  # sum of all documents' values at this step
    predicted_drop: float  # first-order predicted drop of the target loss
    target_loss: float  # measured target loss after the step


@dataclass(frozen=True)
class Visits:
    """Per-visit values at one step for one target: `values[i]` belongs to `document_ids[i]`."""

    step: int
    document_ids: np.ndarray = field(repr=False)  # int64, documents.id
    values: np.ndarray = field(repr=False)  # float64, nats


# ---------------------------------------------------------------------------------------------
# Corpora, runs, targets


def upsert_corpus(
    session: Session,
    sha256: str,
    path: str,
    documents: Sequence[DocumentRecord],
    *,
    n_chunks: int | None = None,
    n_tokens: int | None = None,
) -> CorpusInfo:
    """Insert a corpus and all its documents, or return the existing corpus with this hash.

    The corpus hash covers every document, so an existing hash means identical documents.
    """
    existing = session.execute(select(Corpus).where(Corpus.sha256 == sha256)).scalar_one_or_none()
    if existing is not None:
        return _corpus_info(existing, created_now=False)
    keys = [d.doc_key for d in documents]
    if len(set(keys)) != len(keys):
        dupes = sorted({k for k in keys if keys.count(k) > 1})[:5]
        raise ValueError(f"corpus {path}: duplicate document ids {dupes}; ids must be unique")
    corpus = Corpus(
        sha256=sha256, path=path, n_documents=len(documents), n_chunks=n_chunks, n_tokens=n_tokens
    )
    session.add(corpus)
    session.flush()
    if documents:
        # Core insert on the table: one executemany, no ORM identity bookkeeping per row.
        session.execute(
            insert(Document.__table__),
            [
                {
                    "corpus_id": corpus.id,
                    "doc_key": d.doc_key,
                    "text": d.text,
                    "sha256": d.sha256,
                    "source": d.source,
                    "author": d.author,
                    "license": d.license,
                    "url": d.url,
                    "title": d.title,
                    "date": d.date,
                    "metadata": d.metadata,
                }
                for d in documents
            ],
        )
    return _corpus_info(corpus, created_now=True)


def _corpus_info(corpus: Corpus, *, created_now: bool) -> CorpusInfo:
    return CorpusInfo(corpus.id, corpus.sha256, corpus.path, corpus.n_documents, created_now)


def document_ids(session: Session, corpus_id: int) -> dict[str, int]:
    """doc_key -> documents.id for one corpus: the ids the value writers take."""
    rows = session.execute(
        select(Document.doc_key, Document.id).where(Document.corpus_id == corpus_id)
    )
    return {key: id_ for key, id_ in rows}


def create_run(
    session: Session,
    run_key: str,
    kind: RunKind,
    recipe: dict[str, Any],
    *,
    corpus_id: int | None = None,
    parent_run_key: str | None = None,
    initial_weights_sha256: str | None = None,
    tokenizer_sha256: str | None = None,
) -> RunInfo:
    """Register a new run (status created, committed step 0). A reused run_key is an error."""
    if session.execute(select(Run.id).where(Run.run_key == run_key)).first() is not None:
        raise ValueError(
            f"run {run_key!r} already exists in the ledger; pick a new run key or resume that run"
        )
    parent_id = _run(session, parent_run_key).id if parent_run_key else None
    run = Run(
        run_key=run_key,
        kind=kind,
        recipe=recipe,
        status=RunStatus.CREATED,
        corpus_id=corpus_id,
        parent_run_id=parent_id,
        initial_weights_sha256=initial_weights_sha256,
        tokenizer_sha256=tokenizer_sha256,
        committed_step=0,
    )
    session.add(run)
    session.flush()
    return _run_info(run)


def get_run(session: Session, run_key: str) -> RunInfo:
    return _run_info(_run(session, run_key))


def _run_info(run: Run) -> RunInfo:
    return RunInfo(run.id, run.run_key, run.kind, run.status, run.committed_step, run.corpus_id)


def add_targets(
    session: Session, run_key: str, targets: Iterable[TargetRecord]
) -> list[TargetInfo]:
    """Attach targets to a run; a target key already on the run is an error."""
    run = _run(session, run_key)
    rows = [
        Target(
            run_id=run.id, target_key=t.target_key, text=t.text, prompt=t.prompt, origin=t.origin
        )
        for t in targets
    ]
    session.add_all(rows)
    session.flush()
    return [_target_info(t) for t in rows]


def get_target(session: Session, run_key: str, target_key: str) -> TargetInfo:
    """One target of a run, with its text and prompt."""
    return _target_info(_target(session, _run(session, run_key), target_key))


def run_targets(session: Session, run_key: str, *, references: bool = False) -> list[TargetInfo]:
    """A run's targets in creation order; held-out reference targets only if asked for."""
    run = _run(session, run_key)
    query = select(Target).where(Target.run_id == run.id).order_by(Target.id)
    if not references:
        query = query.where(Target.origin != TargetOrigin.REFERENCE)
    return [_target_info(t) for t in session.execute(query).scalars()]


def _target_info(target: Target) -> TargetInfo:
    return TargetInfo(target.id, target.target_key, target.origin, target.text, target.prompt)


def record_report(
    session: Session, run_key: str, target_key: str, fmt: ReportFormat, sha256: str, path: str
) -> None:
    """Remember an exported report: its format, the SHA-256 of the file's bytes, where."""
    run = _run(session, run_key)
    target = _target(session, run, target_key)
    session.add(Report(run_id=run.id, target_id=target.id, format=fmt, sha256=sha256, path=path))
    session.flush()


def _run(session: Session, run_key: str) -> Run:
    run = session.execute(select(Run).where(Run.run_key == run_key)).scalar_one_or_none()
    if run is None:
        known = session.execute(select(Run.run_key).order_by(Run.id.desc()).limit(5)).scalars()
        raise LookupError(
            f"no run {run_key!r} in the ledger (latest runs: {list(known) or 'none'}); "
            "check the run key or the database URL"
        )
    return run


def _target(session: Session, run: Run, target_key: str) -> Target:
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
    run = _run(session, run_key)
    target = _target(session, run, target_key)
    order = np.argsort(ids, kind="stable")
    ids, raw_a, spec_a = ids[order], raw_a[order], spec_a[order]
    if len(ids) and (np.diff(ids) == 0).any():
        raise ValueError(f"values for target {target_key!r} name a document id twice")
    _check_documents(session, run, ids)
    low = value_key(target.id, 0)
    session.execute(
        delete(DocumentValue).where(DocumentValue.id >= low, DocumentValue.id < low + KEY_STRIDE)
    )
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
    run = _run(session, run_key)
    target = _target(session, run, target_key)
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


def trajectories(session: Session, run_key: str, target_key: str) -> pd.DataFrame:
    """Snapshots of (run, target): step, doc_key, value (cumulative nats), by document, step."""
    run = _run(session, run_key)
    target = _target(session, run, target_key)
    rows = session.execute(
        select(ValueSnapshot.step, Document.doc_key, ValueSnapshot.value)
        .join(Document, Document.id == ValueSnapshot.document_id)
        .where(ValueSnapshot.run_id == run.id, ValueSnapshot.target_id == target.id)
        .order_by(Document.doc_key, ValueSnapshot.step)
    ).all()
    return pd.DataFrame(rows, columns=["step", "doc_key", "value"]).astype(
        {"step": "int64", "value": "float64"}
    )


def read_visits(session: Session, run_key: str, target_key: str) -> list[Visits]:
    """All stored per-visit values of (run, target), by step."""
    run = _run(session, run_key)
    target = _target(session, run, target_key)
    rows = session.execute(
        select(VisitValues.step, VisitValues.n_rows, VisitValues.payload)
        .where(VisitValues.run_id == run.id, VisitValues.target_id == target.id)
        .order_by(VisitValues.step)
    )
    return [Visits(step, *unpack_visits(payload, n)) for step, n, payload in rows]


def window_values(
    session: Session, run_key: str, target_key: str, first_step: int, last_step: int
) -> pd.DataFrame:
    """Values earned in steps first_step..last_step (inclusive) only, e.g. the last epoch.

    Summed from the stored per-visit values (math.fsum per document, so exact). `specific`
    subtracts the same window of the run's reference: the mean over its reference targets,
    or, in a run without them, the mean over its other targets (as the training run ranks).
    Columns doc_key, raw, specific (nats, + = lowered the target's loss), by doc_key; documents
    not visited in the window are absent.
    """
    if first_step > last_step:
        raise ValueError(f"empty step window {first_step}..{last_step}: first_step > last_step")
    run = _run(session, run_key)
    target = _target(session, run, target_key)
    others = session.execute(
        select(Target.id, Target.origin).where(Target.run_id == run.id, Target.id != target.id)
    ).all()
    reference = [i for i, origin in others if origin == TargetOrigin.REFERENCE] or [
        i for i, _ in others
    ]
    if not reference:
        raise LookupError(f"run {run_key!r} has no reference or other target to contrast with")

    def sums(target_id: int) -> dict[int, float]:
        rows = session.execute(
            select(VisitValues.n_rows, VisitValues.payload).where(
                VisitValues.run_id == run.id,
                VisitValues.target_id == target_id,
                VisitValues.step.between(first_step, last_step),
            )
        )
        parts: dict[int, list[float]] = {}
        for n, payload in rows:
            ids, values = unpack_visits(payload, n)
            for document_id, value in zip(ids.tolist(), values.tolist(), strict=True):
                parts.setdefault(document_id, []).append(value)
        return {document_id: math.fsum(v) for document_id, v in parts.items()}

    raw = sums(target.id)
    references = [sums(i) for i in reference]
    keys = dict(
        session.execute(
            select(Document.id, Document.doc_key).where(Document.corpus_id == run.corpus_id)
        ).all()
    )
    rows = [
        (
            keys[d],
            value,
            value - math.fsum(r.get(d, 0.0) for r in references) / len(references),
        )
        for d, value in raw.items()
    ]
    return (
        pd.DataFrame(rows, columns=["doc_key", "raw", "specific"])
        .astype({"raw": "float64", "specific": "float64"})
        .sort_values("doc_key", ignore_index=True)
    )


def write_efficiency(session: Session, run_key: str, records: Sequence[EfficiencyRecord]) -> None:
    """Store (replace) efficiency points of a run, keyed by (step, target)."""
    run = _run(session, run_key)
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
                }
                for r in records
            ],
        )


# ---------------------------------------------------------------------------------------------
# Reads


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
    run = _run(session, run_key)
    target = _target(session, run, target_key)
    rank = DocumentValue.rank_specific if by == "specific" else DocumentValue.rank_raw
    query = (
        select(
            Document.doc_key,
            DocumentValue.raw,
            DocumentValue.specific,
            Document.source,
            Document.title,
        )
        .select_from(DocumentValue)
        .join(Document, Document.id == DocumentValue.document_id)
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


def values_by(
    session: Session, run_key: str, target_key: str, field: GroupField = "source"
) -> pd.DataFrame:
    """Values of one target rolled up by a document metadata field ("which rights holder").

    Columns: the field, documents, raw, specific (exact sums, nats), share (specific over the
    sum of positive specific values). Sorted by specific, highest first; missing -> "(unknown)".
    """
    if field not in ("source", "author", "license"):
        raise ValueError(f"field must be 'source', 'author' or 'license', not {field!r}")
    run = _run(session, run_key)
    target = _target(session, run, target_key)
    rows = session.execute(
        select(getattr(Document, field), DocumentValue.raw, DocumentValue.specific)
        .select_from(DocumentValue)
        .join(Document, Document.id == DocumentValue.document_id)
        .where(_of_target(target.id))
    ).all()
    frame = pd.DataFrame(rows, columns=[field, "raw", "specific"])
    frame[field] = frame[field].fillna(UNKNOWN)
    grouped = frame.groupby(field, sort=False).agg(
        documents=("raw", "size"),
        raw=("raw", lambda s: math.fsum(s.tolist())),
        specific=("specific", lambda s: math.fsum(s.tolist())),
    )
    grouped = grouped.reset_index().astype(
        {"documents": "int64", "raw": "float64", "specific": "float64"}
    )
    total = target.specific_positive_total
    grouped["share"] = grouped["specific"] / total if total else math.nan
    return grouped.sort_values(["specific", field], ascending=[False, True], ignore_index=True)


def document_contributions(session: Session, run_key: str, doc_key: str) -> pd.DataFrame:
    """One document's values for every target of a run, with its rank (1 = highest specific).

    Columns: target_key, origin, raw, specific, rank_specific. Empty if the document has no
    values in the run.
    """
    run = _run(session, run_key)
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
    run = _run(session, run_key)
    column = DocumentValue.specific if by == "specific" else DocumentValue.raw
    query: Select = (
        select(
            Document.doc_key,
            Target.target_key,
            DocumentValue.raw,
            DocumentValue.specific,
            Document.source,
            Document.title,
        )
        .select_from(DocumentValue)
        .join(Document, Document.id == DocumentValue.document_id)
        .join(Target, Target.id == DocumentValue.target_id)
        .where(Target.run_id == run.id, column < 0)
        .order_by(column.asc(), Document.id, Target.id)
    )
    return pd.DataFrame(
        session.execute(query).all(),
        columns=["doc_key", "target_key", "raw", "specific", "source", "title"],
    ).astype({"raw": "float64", "specific": "float64"})


def _of_target(target_id: int) -> ColumnElement[bool]:
    """The value rows of one target: a range of the primary key (see DocumentValue)."""
    low = value_key(target_id, 0)
    return (DocumentValue.id >= low) & (DocumentValue.id < low + KEY_STRIDE)


def efficiency_series(session: Session, run_key: str) -> pd.DataFrame:
    """The per-step efficiency check of a run: step, target_key, values_sum, predicted_drop,
    target_loss (nats), ordered by step then target."""
    run = _run(session, run_key)
    rows = session.execute(
        select(
            EfficiencyPoint.step,
            Target.target_key,
            EfficiencyPoint.values_sum,
            EfficiencyPoint.predicted_drop,
            EfficiencyPoint.target_loss,
        )
        .join(Target, Target.id == EfficiencyPoint.target_id)
        .where(EfficiencyPoint.run_id == run.id)
        .order_by(EfficiencyPoint.step, Target.id)
    ).all()
    return pd.DataFrame(
        rows, columns=["step", "target_key", "values_sum", "predicted_drop", "target_loss"]
    ).astype(
        {
            "step": "int64",
            "values_sum": "float64",
            "predicted_drop": "float64",
            "target_loss": "float64",
        }
    )
