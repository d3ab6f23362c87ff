"""Evidence beside the values (DESIGN 6): pure joins of a ranking with `data.evidence`.

The evidence itself is computed by `provenance.evidence.ensure_evidence`
(attribution_engine/evidence.py for the thresholds) and read back from the ledger; these
helpers only arrange it for a table, the detail view and the value-vs-similarity scatter.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd
import streamlit as st

SHOWN = ["label", "span_words", "ngram_overlap", "similarity", "bm25"]

COLUMNS = {
    "label": st.column_config.TextColumn(
        "evidence", help="verbatim / paraphrase (close paraphrase) / diffuse"
    ),
    "span_words": st.column_config.NumberColumn(
        "longest verbatim run (words)", help="normalised words in a row found in both texts"
    ),
    "ngram_overlap": st.column_config.NumberColumn(
        "5-gram overlap",
        format="percent",
        help="share of the target's distinct 5-word sequences found in the document",
    ),
    "similarity": st.column_config.NumberColumn(
        "semantic similarity",
        format="%.2f",
        help="cosine of all-MiniLM-L6-v2 embeddings, target vs the best passage (-1..1)",
    ),
    "bm25": st.column_config.NumberColumn(
        "BM25", format="%.2f", help="keyword relevance of the document for the target text"
    ),
}

WORDS = (
    "**Evidence** says why a document may be credited. **verbatim**: 13+ words in a row in "
    "both texts (or, for a short target, 6+ words covering half of it); **paraphrase**: not "
    "verbatim but semantically close (similarity >= 0.55: same content in other words, which "
    "is not the same as agreeing); **diffuse**: neither, the gradient credits the document "
    "without visible borrowing (style, facts, vocabulary). "
    "Thresholds: `provenance/reports/README.md`."
)


def progress_to(bar) -> Callable[[int, int], None]:
    """A `progress(done, total)` callback that moves a `st.progress` bar."""

    def report(done: int, total: int) -> None:
        bar.progress(done / max(total, 1), text=f"Evidence: {done} of {total} documents")

    return report


def with_evidence(values: pd.DataFrame, found: pd.DataFrame) -> pd.DataFrame:
    """`values` (a `top_documents` frame) with the evidence columns appended; documents whose
    evidence is not computed yet get empty cells. Row order is kept."""
    found = (
        found[["doc_key", *SHOWN]] if not found.empty else pd.DataFrame(columns=["doc_key", *SHOWN])
    )
    return values.merge(found, on="doc_key", how="left")


def missing(doc_keys: list[str], found: pd.DataFrame) -> list[str]:
    """The documents among `doc_keys` that have no stored evidence, in order, once each."""
    known = set(found["doc_key"]) if not found.empty else set()
    return [k for k in dict.fromkeys(doc_keys) if k not in known]


def scatter_frame(values: pd.DataFrame, found: pd.DataFrame) -> pd.DataFrame:
    """doc_key, value, similarity of the documents that have evidence (the scatter's input)."""
    merged = with_evidence(values[["doc_key", "value"]].drop_duplicates("doc_key"), found)
    merged = merged.dropna(subset=["similarity"])
    return merged[["doc_key", "value", "similarity"]].reset_index(drop=True)


@dataclass(frozen=True)
class Highlights:
    """Character ranges [start, end) to mark in one text (see app/highlight.py)."""

    shared: list[list[int]]
    longest: tuple[int | None, int | None]


def highlights(found: pd.DataFrame, doc_key: str) -> tuple[Highlights, Highlights] | None:
    """(target, document) highlights of one document's evidence, or None when not computed."""
    rows = found[found["doc_key"] == doc_key] if not found.empty else found
    if rows.empty:
        return None
    row = rows.iloc[0]
    ranges = row["ranges"] or {}
    return (
        Highlights(ranges.get("target", []), (_int(row["target_start"]), _int(row["target_end"]))),
        Highlights(
            ranges.get("document", []),
            (_int(row["document_start"]), _int(row["document_end"])),
        ),
    )


def _int(value: object) -> int | None:
    return None if value is None or value != value else int(value)  # NaN -> None
