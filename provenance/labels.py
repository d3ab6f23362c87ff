"""What every number on screen is called and what it may claim (pure pandas, no Streamlit).

One vocabulary of column names for every page and download (`COLUMN_LABELS`: the ledger's
`run_key` is "Run", `negative_sum` "Sum of its negative values (nats)"), no `None` in a table
(`blank_missing`), and the one rule for shares (`share_text`, `with_share_text`): a share of
positive value exists only for a positive value and lies in (0%, 100%]; a harmful document
shows its value, never a negative share.
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Mapping

import pandas as pd

NO_SHARE = "—"  # a value that is not positive has no share of the positive value
NO_SHARE_WORDS = (
    f"{NO_SHARE} in a share column: the value is zero or negative, so it is no part of the "
    "positive value (see its value in nats)."
)

# The ledger's and the pages' column keys -> the words a reader sees, with the unit.
COLUMN_LABELS: dict[str, str] = {
    "run_key": "Run",
    "target_key": "Target",
    "doc_key": "Document",
    "rank": "Rank",
    "title": "Title",
    "source": "Source",
    "author": "Author",
    "license": "Licence",
    "url": "URL",
    "date": "Date",
    "value": "Value (nats)",
    "raw_value": "Raw value (nats)",
    "specific_value": "Specific value (nats)",
    "raw": "Raw value (nats)",
    "specific": "Specific value (nats)",
    "rank_specific": "Rank by specific value",
    "share": "Share of positive value",
    "net_share": "Net value, share of all positive value",
    "rank_by_value": "Rank by value",
    "rank_by_words": "Rank by words (BM25)",
    "documents": "Documents",
    "targets": "Targets",
    "takedown": "Takedown estimate (first order)",
    "first_order": "First-order estimate (nats)",
    "measured_drop": "Measured drop of the target's loss (nats)",
    "negative_targets": "Targets it harmed",
    "negative_sum": "Sum of its negative values (nats)",
    "worst": "Most negative value (nats)",
    "origin": "Origin",
    "text": "Text",
    "prompt": "Prompt",
    "run_status": "Run status",
    "attributed": "Attributed",
    "kind": "Kind",
    "status": "Status",
    "committed_step": "Last committed step",
    "total_steps": "Total steps",
    "parent": "Replay of",
    "corpus": "Corpus",
    "model": "Model",
    "created": "Created",
    "updated": "Updated",
    "id": "Id",
    "path": "Path",
    "sha256": "SHA-256",
    "chunks": "Chunks",
    "tokens": "Tokens",
    "step": "Step",
    "term": "Term",
    "nats": "Amount (nats)",
    "beyond_measured": "First-order figure exceeds the measured drop",
}
NATS_COLUMNS = frozenset(key for key, words in COLUMN_LABELS.items() if "(nats)" in words)
SHARE_COLUMNS = frozenset({"share", "net_share"})


def label(column: str) -> str:
    """The reader's name of a column (a column outside the vocabulary keeps its own name)."""
    return COLUMN_LABELS.get(column, column)


def plain_names(frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` with the reader's column names (for files a user downloads)."""
    return frame.rename(columns=label)


def share_text(share: float | None) -> str:
    """A share as a reader sees it: "8.8%", "<0.1%" for a sliver, NO_SHARE for none. A share
    the ledger computed for a non-positive value (negative, or NaN) is no share."""
    if share is None or not share > 0 or math.isnan(share):
        return NO_SHARE
    if share < 0.0005:
        return "<0.1%"
    return f"{min(share, 1.0):.1%}"


def with_share_text(frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` with every share column as text by `share_text` (a copy)."""
    shown = frame.copy()
    for column in SHARE_COLUMNS & set(shown.columns):
        shown[column] = [share_text(None if s is None else float(s)) for s in shown[column]]
    return shown


def blank_missing(frame: pd.DataFrame, formats: Mapping[str, str | None] = {}) -> pd.DataFrame:
    """`frame` with no `None`/NaN a reader would see: missing text is "", and a column of
    numbers with a missing one becomes text, "" where missing and `number_text` (with the
    column's `formats` entry) elsewhere: a table shows a number column's gap as "None"."""
    shown = frame.copy()
    for column in shown.columns:
        values = shown[column]
        if not values.isna().any():
            continue
        fmt = formats.get(column)
        shown[column] = [_cell(v, fmt) for v in values.astype(object)]
    return shown


def _cell(value: object, fmt: str | None) -> object:
    if value is None or pd.isna(value):
        return ""
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return number_text(float(value), fmt)
    return value


def number_text(value: float, fmt: str | None = None) -> str:
    """A number as text: by a printf format ("%.2f"), "percent" (58%), or plain (a whole
    number without decimals, else 4 significant digits)."""
    if fmt == "percent":
        return f"{value:.0%}"
    if fmt:
        return fmt % value
    return str(int(value)) if float(value).is_integer() else f"{value:.4g}"


def file_name(what: str, *ids: str | None, ext: str) -> str:
    """A download's name that says what it holds: `top-20-fused_<run>_<target>.csv`; ids are
    reduced to [A-Za-z0-9._-] (no path, no odd characters), missing ones left out."""
    parts = [what, *(i for i in ids if i)]
    stem = "_".join(re.sub(r"[^A-Za-z0-9._-]+", "-", p).strip("-.") or "x" for p in parts)
    return f"{stem[:150]}.{ext}"


# A target's origin (`db.listings.list_targets`) in the words under its "Target text" heading.
ORIGIN_WORDS = {
    "uploaded": "uploaded text",
    "generated": "generated by the model",
    "file": "from the training run's targets file",
}


def origin_words(targets: pd.DataFrame, target_key: str | None) -> str:
    """Where the chosen target's text came from, from the target listing's `origin`."""
    rows = targets[targets["target_key"] == target_key]
    origin = None if rows.empty else rows.iloc[0]["origin"]
    return ORIGIN_WORDS.get(origin, "origin not recorded")
