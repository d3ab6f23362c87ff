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
