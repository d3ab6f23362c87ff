"""Shared spans highlighted in user text: the one place the UI renders HTML.

Why raw HTML at all: Streamlit has no element that marks character ranges inside escaped text,
and Markdown is not an option for user text (it turns `[x](javascript:...)`, `![](...)` and
raw tags into live markup). So `highlight_html` builds the HTML itself: every piece of the
user's text goes through `html.escape` (quotes included), and the only tags in the result are
the fixed `<div>`, `<mark>` and `<sup>` strings below, with fixed attributes (and `<sup>`'s
span numbers, which are our own integers). No part of the
user's text is ever an attribute, a URL or a tag name, so it cannot leave the text node it is
in. `show_highlighted` is the only caller of `st.html` in app/ (tests/app/test_highlight.py
renders hostile texts and checks they stay inert).
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from itertools import pairwise

import streamlit as st

# Our own fixed markup; nothing in these strings comes from the user.
_BOX = (
    '<div style="white-space:pre-wrap;word-break:break-word;font-family:monospace;'
    'font-size:0.9em;line-height:1.5;border:1px solid #ddd;border-radius:4px;padding:0.6em">'
)
_OPEN = {
    1: '<mark style="background:#fde68a;padding:0">',  # inside a shared n-gram
    2: '<mark style="background:#f59e0b;padding:0">',  # inside the longest verbatim span
}
_CLOSE = "</mark>"


def highlight_html(
    text: str,
    shared: Iterable[Sequence[int]] = (),
    longest: Sequence[int | None] | None = None,
) -> str:
    """`text` as escaped HTML, with `<mark>` around the character ranges [start, end).

    shared: ranges covered by n-grams the two texts share (light); longest: the longest
    verbatim span (dark; wins where they overlap). Out-of-range or empty ranges are clipped
    or dropped, so stale offsets can never cut outside the text.
    """
    n = len(text)
    marks: list[tuple[int, int, int]] = []
    for start, end in shared:
        marks.append((max(0, int(start)), min(n, int(end)), 1))
    if longest and longest[0] is not None and longest[1] is not None:
        marks.append((max(0, int(longest[0])), min(n, int(longest[1])), 2))
    marks = [m for m in marks if m[0] < m[1]]
    cuts = sorted({0, n, *(m[0] for m in marks), *(m[1] for m in marks)})
    pieces = [_BOX]
    for start, end in pairwise(cuts):
        strength = max((lvl for s, e, lvl in marks if s <= start and end <= e), default=0)
        chunk = html.escape(text[start:end], quote=True)
        pieces.append(f"{_OPEN[strength]}{chunk}{_CLOSE}" if strength else chunk)
    pieces.append("</div>")
    return "".join(pieces)


_SPAN = '<mark style="background:#fde68a;padding:0">'  # a span shared with training documents
_NUMBER = '<sup style="color:#92400e;font-weight:600">'  # the span's number, our own digits


def numbered_spans_html(text: str, spans: Iterable[Sequence[int]]) -> str:
    """`text` as escaped HTML with each span [start, end) marked and followed by its number
    (1, 2, ... in the order given), so a table below can say which documents share span n.
    Spans are clipped to the text; overlapping or empty ones are dropped, never nested."""
    n, at, number = len(text), 0, 0
    pieces = [_BOX]
    for start, end in spans:
        start, end = max(at, int(start)), min(n, int(end))
        if start >= end:
            continue
        number += 1
        pieces.append(html.escape(text[at:start], quote=True))
        pieces.append(f"{_SPAN}{html.escape(text[start:end], quote=True)}{_CLOSE}")
        pieces.append(f"{_NUMBER}{number}</sup>")
        at = end
    pieces.append(html.escape(text[at:], quote=True))
    pieces.append("</div>")
    return "".join(pieces)


def show_highlighted(
    text: str,
    shared: Iterable[Sequence[int]] = (),
    longest: Sequence[int | None] | None = None,
    *,
    numbered: Iterable[Sequence[int]] | None = None,
) -> None:
    """Render `highlight_html(text, shared, longest)`, or `numbered_spans_html(text,
    numbered)` when numbered spans are given; safe because every user character is escaped
    there."""
    markup = (
        highlight_html(text, shared, longest)
        if numbered is None
        else numbered_spans_html(text, numbered)
    )
    st.html(markup)


LEGEND = (
    "Highlighted: light = word runs of 5+ words found in both texts (after case folding and "
    "punctuation removal); dark = the longest verbatim run."
)
