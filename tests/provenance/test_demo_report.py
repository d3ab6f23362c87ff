"""The demo exports the reproduction's report (issue 17): at the end of `provenance demo` the
PDF, HTML and JSON report of gen-0 are under <out>/reports, made on a machine without any
browser, and the PDF names the leading source, the span it shares with the output and the
manifest hash; the JSON report verifies."""

from __future__ import annotations

import io
import json
import sys

import pytest
from pypdf import PdfReader

from db.schema import open_ledger
from provenance import demo
from provenance.reports import failed, verify


@pytest.mark.slow  # trains two tiny runs: about a minute on 2 loaded cores
def test_the_demo_exports_a_pdf_report_that_names_source_span_and_manifest(tmp_path, monkeypatch):
    for browser_driver in ("kaleido", "choreographer"):  # as on a machine without them
        monkeypatch.setitem(sys.modules, browser_driver, None)
    url = f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
    summary = demo.run(tmp_path, url, steps=3, paragraphs=10, top=2, say=lambda _: None)
    (pdf,) = (tmp_path / "reports").glob("provenance-report_*_gen-0.pdf")
    document = json.loads(pdf.with_suffix(".json").read_bytes())
    assert pdf.with_suffix(".html").is_file()
    assert f"{pdf} (also .html, .json)" in summary
    assert document["sections"]["manifest"] in summary

    reader = PdfReader(io.BytesIO(pdf.read_bytes()))
    text = "".join("".join(page.extract_text().split()) for page in reader.pages)
    report = document["report"]
    lead = report["contributors"][0]
    assert lead["doc_key"] in text and "".join(lead["title"].split()) in text
    span = lead["evidence"]["longest_span"]
    start, end = span["target"]
    assert "".join(report["target"]["text"][start:end].split()) in text  # the shared span
    assert document["sections"]["manifest"] in text
    assert failed(verify(pdf.with_suffix(".json"), factory=open_ledger(url, write=False))) == []
