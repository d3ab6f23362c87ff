"""Reads and writes of the evidence and embedding-cache tables (see db/models.py).

Like db/catalog.py: every function takes a Session (the caller owns the transaction) and
returns plain objects or DataFrames. Evidence rows are replaced, never merged, so computing the
evidence of a pair twice leaves one row. Embeddings are stored as little-endian float32 bytes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from db.lookup import run_row, target_row
from db.models import Document, EmbeddingRow, EvidenceLabel, EvidenceRow

EVIDENCE_COLUMNS = [
    "doc_key",
    "label",
    "span_words",
    "target_start",
    "target_end",
    "document_start",
    "document_end",
    "ngram_overlap",
    "similarity",
    "bm25",
    "ranges",
]


@dataclass(frozen=True)
class EvidenceRecord:
    """Evidence of one document for a target; offsets are characters [start, end)."""

    doc_key: str
    label: str  # "verbatim" | "paraphrase" | "diffuse"
    span_words: int
    target_start: int | None
    target_end: int | None
    document_start: int | None
    document_end: int | None
    ngram_overlap: float
    similarity: float
    bm25: float
    ranges: dict  # {"target": [[s, e], ...], "document": [[s, e], ...]}


def write_evidence(
    session: Session,
    run_key: str,
    target_key: str,
    version: str,
    records: Sequence[EvidenceRecord],
) -> None:
    """Store the evidence of these documents for a target, under `version`: pairs already
    stored under `version` are kept as they are (evidence is deterministic, so another process
    stored the same), pairs stored under another version are replaced.

    Only a replacement deletes, so the UI's database role, which may insert evidence but never
    delete it (deploy/grants.sql), fills missing pairs and can never rewrite a stored label;
    replacing evidence of an older version takes the workers' role (`provenance evidence`).
    """
    run = run_row(session, run_key)
    target = target_row(session, run, target_key)
    ids = _document_ids(session, run.corpus_id, [r.doc_key for r in records])
    if not records:
        return
    stored = dict(
        session.execute(
            select(EvidenceRow.document_id, EvidenceRow.version).where(
                EvidenceRow.target_id == target.id, EvidenceRow.document_id.in_(ids.values())
            )
        ).all()
    )
    stale = [doc for doc, kept in stored.items() if kept != version]
    if stale:
        session.execute(
            delete(EvidenceRow).where(
                EvidenceRow.target_id == target.id, EvidenceRow.document_id.in_(stale)
            )
        )
    records = [r for r in records if stored.get(ids[r.doc_key]) != version]
    if not records:
        return
    session.execute(
        insert(EvidenceRow),
        [
            {
                "target_id": target.id,
                "document_id": ids[r.doc_key],
                "version": version,
                "label": EvidenceLabel(r.label),
                "span_words": r.span_words,
                "target_start": r.target_start,
                "target_end": r.target_end,
                "document_start": r.document_start,
                "document_end": r.document_end,
                "ngram_overlap": r.ngram_overlap,
                "similarity": r.similarity,
                "bm25": r.bm25,
                "ranges": r.ranges,
            }
            for r in records
        ],
    )


def read_evidence(
    session: Session, run_key: str, target_key: str, version: str
) -> dict[str, EvidenceRecord]:
    """The stored evidence of a target under `version`, by document key (other versions are
    left out: they were computed with other parameters)."""
    run = run_row(session, run_key)
    target = target_row(session, run, target_key)
    rows = session.execute(
        select(Document.doc_key, EvidenceRow)
        .join(Document, Document.id == EvidenceRow.document_id)
        .where(EvidenceRow.target_id == target.id, EvidenceRow.version == version)
        .order_by(Document.doc_key)
    ).all()
    return {
        doc_key: EvidenceRecord(
            doc_key,
            row.label.value,
            row.span_words,
            row.target_start,
            row.target_end,
            row.document_start,
            row.document_end,
            row.ngram_overlap,
            row.similarity,
            row.bm25,
            row.ranges,
        )
        for doc_key, row in rows
    }


def evidence_frame(session: Session, run_key: str, target_key: str, version: str) -> pd.DataFrame:
    """`read_evidence` as a DataFrame with EVIDENCE_COLUMNS (for the UI)."""
    records = read_evidence(session, run_key, target_key, version).values()
    return pd.DataFrame([r.__dict__ for r in records], columns=EVIDENCE_COLUMNS)


def corpus_texts(session: Session, run_key: str) -> dict[str, str]:
    """Every document text of the run's corpus, by document key (the BM25 collection)."""
    run = run_row(session, run_key)
    return dict(
        session.execute(
            select(Document.doc_key, Document.text)
            .where(Document.corpus_id == run.corpus_id)
            .order_by(Document.doc_key)
        ).all()
    )


def lookup_embeddings(
    session: Session, model: str, text_sha256s: Sequence[str]
) -> dict[str, np.ndarray]:
    """Cached float32 vectors of the texts with these SHA-256s (missing ones are left out)."""
    found: dict[str, np.ndarray] = {}
    keys = list(text_sha256s)
    for start in range(0, len(keys), 500):  # stay under every backend's bound-parameter limit
        rows = session.execute(
            select(EmbeddingRow.text_sha256, EmbeddingRow.vector).where(
                EmbeddingRow.model == model,
                EmbeddingRow.text_sha256.in_(keys[start : start + 500]),
            )
        ).all()
        found.update({key: np.frombuffer(blob, dtype="<f4").copy() for key, blob in rows})
    return found


def store_embeddings(session: Session, model: str, vectors: Mapping[str, np.ndarray]) -> None:
    """Add vectors to the cache; keys already there are left as they are."""
    known = lookup_embeddings(session, model, list(vectors))
    rows = [
        {
            "model": model,
            "text_sha256": key,
            "dim": int(vector.shape[0]),
            "vector": np.asarray(vector, dtype="<f4").tobytes(),
        }
        for key, vector in vectors.items()
        if key not in known
    ]
    if rows:
        session.execute(insert(EmbeddingRow), rows)


def _document_ids(session: Session, corpus_id: int | None, doc_keys: Sequence[str]) -> dict:
    rows = session.execute(
        select(Document.doc_key, Document.id).where(
            Document.corpus_id == corpus_id, Document.doc_key.in_(list(doc_keys))
        )
    ).all()
    ids = dict(rows)
    missing = sorted(set(doc_keys) - ids.keys())
    if missing:
        raise LookupError(f"documents {missing[:5]} are not in the run's corpus")
    return ids
