"""Which documents are listed first: the product's default ranking and its alternatives.

The accounting (values, shares, roll-ups, efficiency) is always the exact In-Run Data Shapley
value; the *order* in which documents are listed is a separate choice, made by measurement
(docs/fidelity.md, section 2.1). The default fuses two rankings with reciprocal-rank fusion
(`attribution_engine.fusion`): the documents by specific value (what training on each did to
the target's loss, beyond what it did to the reference) and by BM25 word overlap with the
target. Each listed row keeps its specific value, raw value and share beside both ranks.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict

import numpy as np
import pandas as pd
from sqlalchemy.orm import Session

from attribution_engine.evidence import bm25_scores
from attribution_engine.fusion import FUSION_K, contribution_scores, ordinal_ranks
from db.catalog import get_target
from db.evidence import corpus_texts
from db.fused_ranks import FUSED_STORED, RankedDocument, stored_fused_top, write_fused_ranks
from db.rankings import TOP_COLUMNS, target_values, top_documents
from provenance.ranking_words import RANKINGS, Ranking

FUSED_WORDS = (
    "Ranked by training contribution fused with word overlap: reciprocal-rank fusion "
    f"(k = {FUSION_K}) of the order by specific value and the order by BM25 word overlap with "
    "the target. Values and shares are the exact specific values, whatever the order."
)
FUSED_COLUMNS = [*TOP_COLUMNS, "rank_by_value", "rank_by_words"]


def ranked_documents(
    session: Session, run_key: str, target_key: str, k: int, by: Ranking = "fused"
) -> pd.DataFrame:
    """The first k documents of a target in ranking `by`.

    "fused" lists only documents with a positive specific value (at most k), ordered by the
    fusion of their ranks by specific value and by BM25 word overlap among all documents the
    run trained on: read from the ledger where the order was stored with the final values
    (`store_fused_rankings`), computed otherwise. Columns: `db.rankings.TOP_COLUMNS` (value =
    the specific value for "fused"; share = value over the target's positive total of that
    kind, nats / nats), plus rank_by_value and rank_by_words (1-based; rank_by_words only for
    "fused", else missing).
    """
    if by not in RANKINGS:
        raise ValueError(f"ranking must be one of {', '.join(RANKINGS)}, not {by!r}")
    if by != "fused":
        frame = top_documents(session, run_key, target_key, k, by=by)
        return frame.assign(rank_by_value=frame["rank"], rank_by_words=pd.NA)[FUSED_COLUMNS]
    stored = stored_fused_top(session, run_key, target_key, k)
    if stored is not None:
        return pd.DataFrame([asdict(row) for row in stored], columns=FUSED_COLUMNS).astype(
            {"rank_by_words": "int64"}
        )
    return computed_fused_ranking(session, run_key, target_key, k)


def ranked_records(
    session: Session, run_key: str, target_key: str, k: int, by: Ranking = "fused"
) -> list[RankedDocument]:
    """`ranked_documents` as typed rows (rank_by_words None where the ranking has none)."""
    frame = ranked_documents(session, run_key, target_key, k, by=by)
    frame = frame.astype({"rank_by_words": "object"}).where(frame.notna(), None)
    return [
        RankedDocument(**{key: _plain(value) for key, value in row.items()})
        for row in frame.to_dict("records")
    ]


def _plain(value: object) -> object:
    """numpy scalars (ranks, values) as Python numbers; other values as they are."""
    return value.item() if isinstance(value, np.generic) else value


def computed_fused_ranking(
    session: Session,
    run_key: str,
    target_key: str,
    k: int,
    texts: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """The fused ranking's first k documents computed from the ledger's values and texts (BM25
    over every document the run trained on); columns as `ranked_documents`. `texts`: the run's
    corpus texts by document key, where the caller has read them already."""
    values = target_values(session, run_key, target_key)
    if values.empty:
        return pd.DataFrame(columns=FUSED_COLUMNS)
    if texts is None:
        texts = corpus_texts(session, run_key)
    query = get_target(session, run_key, target_key).text
    words = bm25_scores(query, [texts[key] for key in values["doc_key"]])  # [D]
    spec = values["specific"].to_numpy()  # in the ledger's order, so ties rank as there
    fused = contribution_scores(spec, words)
    by_words = ordinal_ranks(words)  # ties: the better specific value first
    order = np.argsort(-fused, kind="stable")[: min(k, int((spec > 0).sum()))]
    total = math.fsum(spec[spec > 0].tolist())
    chosen = values.iloc[order]
    frame = pd.DataFrame(
        {
            "rank": np.arange(1, len(order) + 1, dtype=np.int64),
            "doc_key": chosen["doc_key"].to_numpy(),
            "value": chosen["specific"].to_numpy(),
            "raw_value": chosen["raw"].to_numpy(),
            "specific_value": chosen["specific"].to_numpy(),
            "share": chosen["specific"].to_numpy() / total if total else math.nan,
            "source": chosen["source"].to_numpy(),
            "title": chosen["title"].to_numpy(),
            "rank_by_value": chosen["rank_specific"].to_numpy(),
            "rank_by_words": by_words[order].astype(np.int64),
        }
    )
    return frame[FUSED_COLUMNS]


def store_fused_rankings(session: Session, run_key: str, target_keys: Sequence[str]) -> None:
    """Compute each target's fused ranking from the values the ledger holds now and store its
    first FUSED_STORED documents, so later reads (`provenance top`, pages, reports) need no
    BM25; the corpus texts are read once for all targets. Call it once the values are final:
    rewriting them deletes what was stored."""
    texts = corpus_texts(session, run_key)
    for target_key in target_keys:
        frame = computed_fused_ranking(session, run_key, target_key, FUSED_STORED, texts)
        write_fused_ranks(
            session,
            run_key,
            target_key,
            frame["doc_key"].tolist(),
            [int(rank) for rank in frame["rank_by_words"]],
        )
