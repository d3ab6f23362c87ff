"""CSV formula injection (issue 18 item 5): no cell of the report CSV or of a UI "Download CSV"
table starts with a formula character unless it is a plain number; one helper
(provenance.csv_safety) does it everywhere."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pandas as pd
import pytest

from provenance.csv_safety import FORMULA_STARTS, csv_bytes, safe_cell
from provenance.reports.csv import render_csv

ROOT = Path(__file__).resolve().parents[2]
PAYLOADS = [
    '=HYPERLINK("http://evil.example","click")',
    "+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(A1:A9)",
    "\t=1+1",
    "\r=1+1",
]


def _live_formulas(data: bytes) -> list[str]:
    """Cells a spreadsheet would run: starting with a formula character, not a plain number."""
    rows = csv.reader(io.StringIO(data.decode("utf-8"), newline=""))
    return [
        cell
        for row in rows
        for cell in row
        if cell.startswith(FORMULA_STARTS) and not re.fullmatch(r"[+-]?[\d.]+(e[+-]?\d+)?", cell)
    ]


def _document(target_key: str, text: str) -> dict:
    row = {
        "rank": 1,
        "doc_key": text,
        "specific": -0.25,
        "raw": 1e-07,
        "share": None,
        "evidence": {"label": text, "longest_span": None, "ngram_overlap": 0.5},
        **{f: text for f in ("title", "source", "author", "license", "url")},
        "sha256": "0" * 64,
    }
    return {
        "sha256": "1" * 64,
        "report": {
            "run": {"key": "run-1"},
            "target": {"key": target_key},
            "manifest": {"corpus": {"sha256": "2" * 64}},
            "method": {"units": "nats"},
            "contributors": [row],
            "harmful": [],
        },
    }


@pytest.mark.parametrize("payload", PAYLOADS)
def test_target_id_with_a_comma_cannot_inject_a_formula_into_the_report_csv(payload):
    data = render_csv(_document(f"t,{payload}", payload))
    assert _live_formulas(data) == []
    rows = list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))
    assert rows[1] == ["# target " + " ".join(f"t,{payload}".split())]  # one cell
    top = dict(zip(rows[5], rows[6], strict=True))
    assert top["specific"] == "-0.25" and top["raw"] == "1e-07"  # numbers stay numbers
    assert top["title"] == "'" + payload


def test_download_csv_tables_neutralise_formulas():
    frame = pd.DataFrame(
        {
            "doc_key": PAYLOADS,
            "value": [-1.5, 2.0, -3.0, 0.0, 1e-9, -2e30],
            "text_number": ["-1.5", "2", "+3", "1e-07", "-0", ".5"],
        }
    )
    frame[PAYLOADS[0]] = 1  # a column name from user text
    data = csv_bytes(frame)
    assert _live_formulas(data) == []
    back = pd.read_csv(io.BytesIO(data))
    assert back["value"].tolist() == frame["value"].tolist()
    assert back["doc_key"].tolist() == ["'" + p for p in PAYLOADS]
    assert safe_cell("-1.5") == "-1.5" and safe_cell(-1.5) == -1.5
    assert safe_cell("=1") == "'=1" and safe_cell("plain") == "plain"


def test_every_ui_csv_download_goes_through_the_one_helper():
    """A page that builds CSV itself (`to_csv`, csv.writer) would skip the neutralising."""
    offenders = [
        f"{path.relative_to(ROOT)}:{n}"
        for path in sorted((ROOT / "app").rglob("*.py"))
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if re.search(r"\.to_csv\(|csv\.writer|DictWriter", line)
    ]
    assert offenders == []
    uses = [p for p in (ROOT / "app").rglob("*.py") if "csv_bytes(" in p.read_text()]
    assert len(uses) >= 2  # ui.downloads and the health page's filter list
