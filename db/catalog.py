"""What the ledger holds: corpora and their documents, runs, targets and exported reports.

Every function takes a Session (the caller owns the transaction, `db.session.session_scope`)
and returns a dataclass or a DataFrame, never an ORM row. A run's recipe is stored and handed
back as opaque JSON: reading it is the application's business (provenance/recipe.py).
The UI's summaries of all of it are db/listings.py.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from db.lookup import run_row, target_row
from db.models import (
    Corpus,
    Document,
    Report,
    ReportFormat,
    Run,
    RunKind,
    RunStatus,
    Target,
    TargetOrigin,
)


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
    recipe: dict[str, Any]  # the stored JSON, as written (provenance.recipe.Recipe reads it)
    parent_run_key: str | None
    initial_weights_sha256: str | None
    tokenizer_sha256: str | None
    final_weights_sha256: str | None


@dataclass(frozen=True)
class TargetRecord:
    target_key: str
    text: str
    origin: TargetOrigin
    prompt: str | None = None


@dataclass(frozen=True, kw_only=True)
class TargetInfo(TargetRecord):
    """A target as the ledger holds it: the record, and the id the ledger gave it."""

    id: int


@dataclass(frozen=True)
class DocumentDetail:
    """One document of a run's corpus (text as ingested, unescaped)."""

    doc_key: str
    text: str
    source: str | None
    author: str | None
    license: str | None
    title: str | None
    url: str | None
    date: str | None
    sha256: str


# ---------------------------------------------------------------------------------------------
# Corpora and documents


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


def run_corpus(session: Session, run_key: str) -> CorpusInfo | None:
    """The corpus a run trained on (None for a run without one); created_now is False."""
    run = run_row(session, run_key)
    corpus = session.get(Corpus, run.corpus_id) if run.corpus_id is not None else None
    return _corpus_info(corpus, created_now=False) if corpus is not None else None


def _corpus_info(corpus: Corpus, *, created_now: bool) -> CorpusInfo:
    return CorpusInfo(corpus.id, corpus.sha256, corpus.path, corpus.n_documents, created_now)


def document_ids(session: Session, corpus_id: int) -> dict[str, int]:
    """doc_key -> documents.id for one corpus: the ids the value writers take."""
    rows = session.execute(
        select(Document.doc_key, Document.id).where(Document.corpus_id == corpus_id)
    )
    return {key: id_ for key, id_ in rows}


def document_hashes(session: Session, run_key: str) -> list[tuple[str, str]]:
    """(doc_key, SHA-256) of every document of the run's corpus, sorted by doc_key in Python
    (SQL collations order text differently per backend)."""
    run = run_row(session, run_key)
    return sorted(
        session.execute(
            select(Document.doc_key, Document.sha256).where(Document.corpus_id == run.corpus_id)
        ).all()
    )


_DETAIL = (
    Document.doc_key,
    Document.text,
    Document.source,
    Document.author,
    Document.license,
    Document.title,
    Document.url,
    Document.date,
    Document.sha256,
)


def document_detail(session: Session, run_key: str, doc_key: str) -> DocumentDetail:
    """The document `doc_key` of the corpus the run trained on."""
    row = session.execute(
        select(*_DETAIL)
        .join(Run, Run.corpus_id == Document.corpus_id)
        .where(Run.run_key == run_key, Document.doc_key == doc_key)
    ).first()
    if row is None:
        raise LookupError(f"run {run_key!r} has no document {doc_key!r} in its corpus")
    return DocumentDetail(*row)


def find_document(session: Session, corpus_id: int, doc_key: str) -> DocumentDetail | None:
    """The document `doc_key` of corpus `corpus_id`, or None when the ledger has none."""
    row = session.execute(
        select(*_DETAIL).where(Document.corpus_id == corpus_id, Document.doc_key == doc_key)
    ).first()
    return DocumentDetail(*row) if row is not None else None


def corpus_runs(session: Session, corpus_id: int) -> list[str]:
    """The keys of the runs over corpus `corpus_id` (trained on it, or replaying a run that
    did), newest first."""
    return list(
        session.execute(
            select(Run.run_key).where(Run.corpus_id == corpus_id).order_by(Run.id.desc())
        ).scalars()
    )


def documents(session: Session, run_key: str, doc_keys: Sequence[str]) -> dict[str, DocumentDetail]:
    """These documents of the run's corpus, by doc_key (keys not in the corpus are absent)."""
    run = run_row(session, run_key)
    rows = session.execute(
        select(*_DETAIL).where(
            Document.corpus_id == run.corpus_id, Document.doc_key.in_(list(doc_keys))
        )
    ).all()
    return {row[0]: DocumentDetail(*row) for row in rows}


# ---------------------------------------------------------------------------------------------
# Runs


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
    """Register a new run (status created, committed step 0). A reused run_key is an error.

    `recipe` is stored as given (JSON) and handed back unread by `get_run`.
    """
    if session.execute(select(Run.id).where(Run.run_key == run_key)).first() is not None:
        raise ValueError(
            f"run {run_key!r} already exists in the ledger; pick a new run key or resume that run"
        )
    parent_id = run_row(session, parent_run_key).id if parent_run_key else None
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
    return _run_info(session, run)


def get_run(session: Session, run_key: str) -> RunInfo:
    """The run `run_key`; LookupError naming the latest runs when there is none."""
    return _run_info(session, run_row(session, run_key))


def find_run(session: Session, run_key: str) -> RunInfo | None:
    """The run `run_key`, or None when the ledger has no such run."""
    run = session.execute(select(Run).where(Run.run_key == run_key)).scalar_one_or_none()
    return _run_info(session, run) if run is not None else None


def commit_step(
    session: Session, run_key: str, step: int, final_weights_sha256: str | None = None
) -> None:
    """Mark `step` as the run's committed step: status running, or done with the final
    weights' hash when one is given."""
    run = run_row(session, run_key)
    run.committed_step = step
    run.status = RunStatus.DONE if final_weights_sha256 else RunStatus.RUNNING
    run.interrupted_at = None  # committing again: the run was resumed
    if final_weights_sha256:
        run.final_weights_sha256 = final_weights_sha256
    session.flush()


def mark_interrupted(session: Session, run_key: str, at: dt.datetime) -> None:
    """Record that training of `run_key` stopped (Ctrl-C) at `at` (UTC) before its end: it is
    listed "interrupted" at its committed step until it is resumed. A finished run is left."""
    run = run_row(session, run_key)
    if run.status is not RunStatus.DONE:
        run.interrupted_at = at
        session.flush()


def _run_info(session: Session, run: Run) -> RunInfo:
    parent = (
        session.execute(select(Run.run_key).where(Run.id == run.parent_run_id)).scalar_one()
        if run.parent_run_id is not None
        else None
    )
    return RunInfo(
        run.id,
        run.run_key,
        run.kind,
        run.status,
        run.committed_step,
        run.corpus_id,
        run.recipe,
        parent,
        run.initial_weights_sha256,
        run.tokenizer_sha256,
        run.final_weights_sha256,
    )


# ---------------------------------------------------------------------------------------------
# Targets and reports


def add_targets(
    session: Session, run_key: str, targets: Iterable[TargetRecord]
) -> list[TargetInfo]:
    """Attach targets to a run; a target key already on the run is an error."""
    run = run_row(session, run_key)
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
    return _target_info(target_row(session, run_row(session, run_key), target_key))


def run_targets(session: Session, run_key: str, *, references: bool = False) -> list[TargetInfo]:
    """A run's targets in creation order; held-out reference targets only if asked for."""
    run = run_row(session, run_key)
    query = select(Target).where(Target.run_id == run.id).order_by(Target.id)
    if not references:
        query = query.where(Target.origin != TargetOrigin.REFERENCE)
    return [_target_info(t) for t in session.execute(query).scalars()]


def _target_info(target: Target) -> TargetInfo:
    return TargetInfo(target.target_key, target.text, target.origin, target.prompt, id=target.id)


def record_report(
    session: Session, run_key: str, target_key: str, fmt: ReportFormat, sha256: str, path: str
) -> None:
    """Remember an exported report: its format, the SHA-256 of the file's bytes, where."""
    run = run_row(session, run_key)
    target = target_row(session, run, target_key)
    session.add(Report(run_id=run.id, target_id=target.id, format=fmt, sha256=sha256, path=path))
    session.flush()
