"""CSV that a spreadsheet opens as data: no cell runs as a formula (CSV injection).

A spreadsheet runs a cell that starts with '=', '+', '-' or '@' as a formula (and one that
starts with a tab or carriage return may be read so once trimmed), so user text such as
'=HYPERLINK("http://evil", "click")' in a title or an id would become a live link or worse.
OWASP's rule: prefix such a cell with a single quote, which spreadsheets show as text. A cell
that is a plain decimal number ("-0.25", "1e-07") is left alone: it is a value, not a
formula, and a quote would turn a number into text.

`safe_cell` is the one rule, and rows end in CRLF (`LINE_END`) so that a carriage return
or line feed inside a cell is quoted; the report CSV (provenance/reports/csv.py) and every "Download
CSV" button of the UI (`csv_bytes`) use it.
"""

from __future__ import annotations

import re

import pandas as pd

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
LINE_END = "\r\n"  # RFC 4180; Python's csv quotes a cell holding any character of it
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def safe_cell(value: object) -> object:
    """`value` as a CSV cell that no spreadsheet runs: text starting with a formula character
    gets a leading "'" unless it is a plain number; other values are returned unchanged."""
    if not isinstance(value, str) or not value.startswith(FORMULA_STARTS):
        return value
    return value if _NUMBER.fullmatch(value) else "'" + value


def safe_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of `frame` with `safe_cell` applied to every text cell and column name (numeric,
    boolean and date columns are written by pandas as such and stay as they are)."""
    out = frame.copy()
    out.columns = range(frame.shape[1])  # by position: column names may repeat
    for column in out.columns:
        if pd.api.types.is_object_dtype(out[column]) or pd.api.types.is_string_dtype(out[column]):
            out[column] = out[column].map(safe_cell)
    out.columns = [safe_cell(str(c)) for c in frame.columns]
    return out


def csv_bytes(frame: pd.DataFrame) -> bytes:
    """UTF-8 CSV of a table for download, every text cell neutralised (`safe_cell`). Rows end
    in CRLF (RFC 4180), so a carriage return inside a cell is quoted, never a row break."""
    return safe_frame(frame).to_csv(index=False, lineterminator=LINE_END).encode("utf-8")
