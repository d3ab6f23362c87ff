"""Sentences the reports for people (HTML, PDF) print alike, from the report's plain data."""

from __future__ import annotations


def evidence_words(evidence: dict, target_text: str, quotes: str = '""') -> tuple[str, str, str]:
    """One shown document's evidence (a report row's `evidence`) in words: its label, the
    longest span it shares with the target between `quotes` (open, close) or "no common word",
    and its scores. Unescaped: the HTML escapes each part."""
    span = evidence["longest_span"]
    copied = "no common word"
    if span:
        start, end = span["target"]
        copied = (
            f"longest span {span['words']} words: {quotes[0]}{target_text[start:end]}{quotes[1]}"
        )
    scores = (
        f"n-gram overlap {evidence['ngram_overlap']:.2f}, similarity {evidence['similarity']:.3f}, "
        f"BM25 {evidence['bm25']:.3f}"
    )
    return evidence["label"], copied, scores
