"""Negative-value documents summarised per document (pure pandas, no Streamlit)."""

from __future__ import annotations

import json
import math

import pandas as pd

HEALTH_COLUMNS = ["doc_key", "title", "source", "negative_targets", "negative_sum", "worst"]


def by_document(pairs: pd.DataFrame, by: str = "specific") -> pd.DataFrame:
    """One row per document from `db.rankings.negative_documents` pairs: for how many
    targets it was negative, the sum of those values and the most negative one (nats).
    Most harmful (lowest sum) first."""
    if pairs.empty:
        return pd.DataFrame(columns=HEALTH_COLUMNS)
    grouped = pairs.groupby("doc_key", sort=False).agg(
        title=("title", "first"),
        source=("source", "first"),
        negative_targets=("target_key", "nunique"),
        negative_sum=(by, lambda s: math.fsum(s.tolist())),
        worst=(by, "min"),
    )
    grouped = grouped.reset_index()
    return grouped.sort_values(["negative_sum", "doc_key"], ignore_index=True)[HEALTH_COLUMNS]


def to_jsonl(frame: pd.DataFrame) -> str:
    """One JSON object per row (a filter list a data pipeline reads line by line)."""
    records = json.loads(frame.to_json(orient="records", double_precision=15))
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)


CAVEAT = (
    "What this measures: a document's value for a target is how much training on it lowered "
    "that target's loss (nats, first order); negative means it raised it. It does not measure "
    "the document's quality, truth or legality, and it is only as broad as the targets: a "
    "document that worked against these few texts may help everything else the model does. "
    "Under AdamW the values also over-count (see the efficiency check on Attribution). Treat "
    "the list as documents to look at, not to drop unread."
)


def candidates(summary: pd.DataFrame, *, min_targets: int, min_harm: float) -> pd.DataFrame:
    """The documents of `by_document` that pass the threshold: negative for at least
    `min_targets` targets, and their negative values summing to at most -`min_harm` nats
    (`min_harm` >= 0; 0 keeps every negative sum)."""
    if min_harm < 0:
        raise ValueError(f"min_harm is a size in nats (>= 0), not {min_harm}")
    keep = (summary["negative_targets"] >= min_targets) & (summary["negative_sum"] <= -min_harm)
    return summary[keep].reset_index(drop=True)


def threshold_words(min_targets: int, targets: int, min_harm: float, by: str) -> str:
    """The threshold in one sentence, as the page states it beside the list."""
    harm = f", summing to at most -{min_harm:g} nats" if min_harm > 0 else ""
    return (
        f"Threshold: a negative {by} value for at least {min_targets} of the run's {targets} "
        f"targets{harm}."
    )
