"""Spans of a target's text shared with training documents, each with the documents that hold
it (as OLMoTrace shows an output's spans): pure functions of the stored evidence.

The evidence of each (target, document) pair keeps the target's character ranges covered by
word 5-grams the two texts share (`ranges["target"]`, db/evidence.py). Cutting the target at
every range boundary gives pieces each covered by a fixed set of documents; neighbouring
pieces with the same set are joined, so a span is a maximal run of characters shared with
exactly the same documents.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

import pandas as pd

SPAN_COLUMNS = ["span", "words", "doc_key"]


@dataclass(frozen=True)
class SharedSpan:
    """Characters [start, end) of the target shared with `doc_keys` (in ranking order)."""

    start: int
    end: int
    doc_keys: tuple[str, ...]


def shared_spans(found: pd.DataFrame, order: list[str]) -> list[SharedSpan]:
    """The target's shared spans, left to right, from `found` (`data.evidence`: doc_key and
    ranges per document). Each span lists its documents in `order` (the page's ranking), then
    any others by id."""
    covers: dict[str, list[tuple[int, int]]] = {}
    if not found.empty:
        for doc_key, ranges in zip(found["doc_key"], found["ranges"], strict=True):
            pairs = [(int(s), int(e)) for s, e in (ranges or {}).get("target", []) if s < e]
            if pairs:
                covers[doc_key] = pairs
    if not covers:
        return []
    rank = {key: i for i, key in enumerate(dict.fromkeys(order))}
    keys = sorted(covers, key=lambda k: (rank.get(k, len(rank)), k))
    cuts = sorted({b for pairs in covers.values() for pair in pairs for b in pair})
    spans: list[SharedSpan] = []
    for start, end in pairwise(cuts):
        docs = tuple(k for k in keys if any(s <= start and end <= e for s, e in covers[k]))
        if not docs:
            continue
        if spans and spans[-1].end == start and spans[-1].doc_keys == docs:
            spans[-1] = SharedSpan(spans[-1].start, end, docs)
        else:
            spans.append(SharedSpan(start, end, docs))
    return spans


def span_table(text: str, spans: list[SharedSpan]) -> pd.DataFrame:
    """One row per (span, document): the span's number (1-based, as numbered in the text), its
    words, and the document (columns SPAN_COLUMNS), for a table a reader clicks through."""
    rows = [
        (number, " ".join(text[span.start : span.end].split()), doc_key)
        for number, span in enumerate(spans, start=1)
        for doc_key in span.doc_keys
    ]
    return pd.DataFrame(rows, columns=SPAN_COLUMNS)
