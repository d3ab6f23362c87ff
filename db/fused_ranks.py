"""Stored fused ranks: a target's first documents in the product's default ranking, kept in the
ledger once its values are final so a top-k read is one indexed query (no BM25, no pandas).

The application layer computes the ranking (provenance/ranking.py: training contribution fused
with BM25 word overlap) and hands the order here; rewriting the target's values deletes it
(db/values.py). A target without stored ranks (a run still training, or one written before
revision 0006) is ranked on read by the application layer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import BigInteger, cast, delete, insert, select
from sqlalchemy.orm import Session

from db.lookup import run_row, target_row
from db.models import KEY_STRIDE, RANK_INDEXED, Document, DocumentValue, FusedRank, value_key

# How many of a target's first fused documents are stored: as many as the rank indexes hold.
FUSED_STORED = RANK_INDEXED


@dataclass(frozen=True)
class RankedDocument:
    """One listed document of a target (values in nats; positive = lowered the target's loss).

    `value` is what the ranking lists (the specific value for the fused ranking); `share` is
    value / the target's sum of positive values of that kind (NaN when there is none);
    rank_by_value is the document's rank by that value, rank_by_words its rank by BM25 word
    overlap with the target (None where the ranking did not use word overlap).
    """

    rank: int
    doc_key: str
    value: float
    raw_value: float
    specific_value: float
    share: float
    source: str | None
    title: str | None
    rank_by_value: int
    rank_by_words: int | None


def write_fused_ranks(
    session: Session,
    run_key: str,
    target_key: str,
    doc_keys: Sequence[str],
    ranks_by_words: Sequence[int],
) -> None:
    """Store a target's fused order: doc_keys[0] is rank 1; ranks_by_words[i] is doc_keys[i]'s
    rank by word overlap. At most FUSED_STORED documents, each with a value row on the target
    (the ranking is of the values the ledger holds now); replaces what was stored."""
    if len(doc_keys) != len(ranks_by_words):
        raise ValueError(
            f"doc_keys and ranks_by_words must be equally long: {len(doc_keys)} and "
            f"{len(ranks_by_words)}"
        )
    if len(doc_keys) > FUSED_STORED:
        raise ValueError(f"at most {FUSED_STORED} fused ranks are stored, not {len(doc_keys)}")
    run = run_row(session, run_key)
    target = target_row(session, run, target_key)
    ids = dict(
        session.execute(
            select(Document.doc_key, Document.id).where(
                Document.corpus_id == run.corpus_id, Document.doc_key.in_(list(doc_keys))
            )
        ).all()
    )
    valued = set(
        session.execute(
            select(DocumentValue.document_id).where(
                DocumentValue.id.in_([value_key(target.id, i) for i in ids.values()])
            )
        ).scalars()
    )
    missing = [key for key in doc_keys if ids.get(key) not in valued]
    if missing:
        raise LookupError(
            f"run {run_key!r}, target {target_key!r}: {len(missing)} ranked document(s) have no "
            f"value on the target (first: {missing[:5]}); write the values first"
        )
    session.execute(delete(FusedRank).where(FusedRank.target_id == target.id))
    if doc_keys:
        session.execute(
            insert(FusedRank),
            [
                {"target_id": target.id, "rank": i + 1, "document_id": ids[key], "rank_words": w}
                for i, (key, w) in enumerate(zip(doc_keys, ranks_by_words, strict=True))
            ],
        )
    session.flush()


def stored_fused_top(
    session: Session, run_key: str, target_key: str, k: int
) -> list[RankedDocument] | None:
    """The target's first k documents in the stored fused order, or None when the ledger cannot
    answer from stored ranks (none stored, or k beyond the FUSED_STORED that were)."""
    run = run_row(session, run_key)
    target = target_row(session, run, target_key)
    rows = session.execute(
        select(
            FusedRank.rank,
            Document.doc_key,
            DocumentValue.raw,
            DocumentValue.specific,
            DocumentValue.rank_specific,
            FusedRank.rank_words,
            Document.source,
            Document.title,
        )
        .join(Document, Document.id == FusedRank.document_id)
        .join(
            DocumentValue,
            # the value row's key (value_key), computed in 64 bits on every backend
            DocumentValue.id
            == cast(FusedRank.target_id, BigInteger) * KEY_STRIDE + FusedRank.document_id,
        )
        .where(FusedRank.target_id == target.id)
        .order_by(FusedRank.rank)
        .limit(min(k, FUSED_STORED))
    ).all()
    if not rows or (len(rows) < k and len(rows) == FUSED_STORED):
        return None
    total = target.specific_positive_total
    return [
        RankedDocument(
            rank=rank,
            doc_key=doc_key,
            value=specific,
            raw_value=raw,
            specific_value=specific,
            share=specific / total if total else float("nan"),
            source=source,
            title=title,
            rank_by_value=rank_specific,
            rank_by_words=rank_words,
        )
        for rank, doc_key, raw, specific, rank_specific, rank_words, source, title in rows
    ]
