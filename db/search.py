"""Find a document: search the ledger's corpora by document id, title or text (one document
by (corpus, id) and the runs over its corpus: db/catalog.py).

Matching is a case-insensitive substring match (`ILIKE` on PostgreSQL, `lower() LIKE lower()`
on SQLite, ASCII case only there), with the user's `%`, `_` and `\\` escaped so they match
themselves. Every function takes a Session and returns a dataclass or a DataFrame.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import pandas as pd
from sqlalchemy import ColumnElement, case, func, or_, select
from sqlalchemy.orm import Session

from db.models import Corpus, Document

SearchField = Literal["any", "id", "title", "text"]
SEARCH_FIELDS: tuple[SearchField, ...] = ("any", "id", "title", "text")
# A search is a phrase, not a document: a longer string is refused with this number, so a
# pasted page never becomes a scan with a 10 kB pattern.
MAX_QUERY_CHARS = 300
SNIPPET_CHARS = 160  # characters of text shown around a text match
HIT_COLUMNS = ["corpus_id", "corpus", "doc_key", "title", "source", "author", "matched", "excerpt"]
_ESCAPE = "\\"


class BadQuery(ValueError):
    """A search string that cannot be searched; the message says why and what to type."""


@dataclass(frozen=True)
class SearchResult:
    """One page of hits (columns HIT_COLUMNS) and how many documents match in all."""

    total: int
    hits: pd.DataFrame


def like_pattern(query: str) -> str:
    """`%query%` with LIKE's wildcards and the escape character escaped (escape `\\`)."""
    escaped = query.replace(_ESCAPE, _ESCAPE * 2).replace("%", r"\%").replace("_", r"\_")
    return f"%{escaped}%"


def checked_query(query: str) -> str:
    """The query with surrounding blanks removed; BadQuery when empty or too long."""
    text = query.strip()
    if not text:
        raise BadQuery("Type part of a document id, a title or a few words of its text.")
    if len(text) > MAX_QUERY_CHARS:
        raise BadQuery(
            f"The search is {len(text):,} characters long; search at most {MAX_QUERY_CHARS} "
            "(a distinctive phrase finds a document as well as its whole text)."
        )
    if "\x00" in text:
        raise BadQuery("The search contains a NUL character; type plain text.")
    return text


def search_documents(
    session: Session,
    query: str,
    *,
    field: SearchField = "any",
    limit: int = 50,
    offset: int = 0,
) -> SearchResult:
    """Documents of every corpus whose id, title or text (`field`; "any" = all three)
    contains `query`, ignoring case. Ordered: the exact id first, then id matches, title
    matches, text matches; newest corpus first, then by id. `matched` says which field
    matched first; `excerpt` shows the text around a text match. BadQuery for an empty or
    over-long query."""
    text = checked_query(query)
    if field not in SEARCH_FIELDS:
        raise ValueError(f"field must be one of {', '.join(SEARCH_FIELDS)}, not {field!r}")
    pattern = like_pattern(text)
    columns: dict[str, ColumnElement[bool]] = {
        "id": Document.doc_key.ilike(pattern, escape=_ESCAPE),
        "title": Document.title.ilike(pattern, escape=_ESCAPE),
        "text": Document.text.ilike(pattern, escape=_ESCAPE),
    }
    chosen = list(columns) if field == "any" else [field]
    where = or_(*(columns[name] for name in chosen))
    total = int(session.execute(select(func.count()).select_from(Document).where(where)).scalar())
    matched = case(*((columns[name], name) for name in chosen), else_="text")
    order = case(
        (func.lower(Document.doc_key) == text.lower(), 0),
        *((columns[name], i + 1) for i, name in enumerate(chosen)),
        else_=len(chosen) + 1,
    )
    rows = session.execute(
        select(
            Document.corpus_id,
            Corpus.path,
            Document.doc_key,
            Document.title,
            Document.source,
            Document.author,
            matched,
            Document.text,
        )
        .join(Corpus, Corpus.id == Document.corpus_id)
        .where(where)
        .order_by(order, Document.corpus_id.desc(), Document.doc_key)
        .limit(max(1, int(limit)))
        .offset(max(0, int(offset)))
    ).all()
    hits = [
        (*row[:7], excerpt(row[7], text) if row[6] == "text" else "")
        for row in rows  # the text itself stays here: a page shows an excerpt
    ]
    return SearchResult(total, pd.DataFrame(hits, columns=HIT_COLUMNS))


def excerpt(text: str, query: str, width: int = SNIPPET_CHARS) -> str:
    """About `width` characters of `text` around the first case-insensitive match of query,
    with "..." where it was cut; the start of the text when the match is not found in Python
    (SQLite's and Python's case folding differ outside ASCII)."""
    at = text.lower().find(query.lower())
    start = max(0, at - (width - len(query)) // 2) if at >= 0 else 0
    piece = " ".join(text[start : start + width].split())
    return ("..." if start > 0 else "") + piece + ("..." if start + width < len(text) else "")
