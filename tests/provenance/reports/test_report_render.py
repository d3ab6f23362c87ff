"""HTML, CSV and PDF reports: rendered from the JSON report, naming its hash; user text is
escaped in HTML (no markup from corpus or targets reaches the page) and defused in CSV; the
PDF parses, and holds the top document and the manifest hash."""

from __future__ import annotations

import csv
import io
import json

import pytest
from pypdf import PdfReader
from report_fixtures import INJECTED

from provenance.reports import canonical, failed, verify
from provenance.reports.html import embedded_report


@pytest.fixture(scope="module")
def document(ledgered):
    return json.loads(ledgered.report("json").read_bytes())


def test_html_escapes_user_text_and_embeds_the_report(ledgered, document):
    path = ledgered.report("html")
    page = path.read_text(encoding="utf-8")
    assert INJECTED not in page and "<b>press</b>" not in page
    assert "<script>alert" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page  # shown, as text
    assert document["sha256"] in page
    assert "<mark>" in page  # the copied span is highlighted
    assert page.count("</script>") == page.count("<script")  # nothing closes a script early
    assert "<script src" not in page and "<link" not in page  # offline
    assert page.count("<script") == 1  # the embedded report is the page's only script
    assert len(page.encode("utf-8")) < 40 * len(embedded_report(path.read_bytes()))
    embedded = embedded_report(path.read_bytes())
    assert canonical(json.loads(embedded)) == canonical(document)
    assert failed(verify(path)) == []


def test_csv_lists_the_documents_with_evidence_and_defuses_formulas(ledgered, document):
    text = ledgered.report("csv").read_text(encoding="utf-8")
    comments = [line for line in text.splitlines() if line.startswith("#")]
    assert f"# report SHA-256 {document['sha256']}" in comments
    rows = list(csv.DictReader(io.StringIO("\n".join(text.splitlines()[len(comments) :]))))
    report = document["report"]
    assert len(rows) == len(report["contributors"]) + len(report["harmful"])
    top = rows[0]
    assert (top["section"], top["doc_key"], top["label"]) == ("contributors", "doc-004", "verbatim")
    assert float(top["specific"]) == report["contributors"][0]["specific"]  # repr round trip
    assert top["source"].startswith("'=")  # a spreadsheet would run "=HYPERLINK(...)"


def test_pdf_reads_summary_first_and_cites_the_manifest_hash(ledgered, document):
    path = ledgered.report("pdf")
    reader = PdfReader(io.BytesIO(path.read_bytes()))
    pages = ["".join(page.extract_text().split()) for page in reader.pages]
    squeezed = "".join(pages)  # extraction may add spaces between words
    report = document["report"]
    assert 2 <= len(reader.pages) <= 10
    first = pages[0]  # the one-page summary: question, answer, confidence, date, verification
    for words in ("1.Summary", "Thequestion", "Theanswer", "Howsure", "cannotsay", "Prepared"):
        assert words in first, words
    assert "doc-004" in first and "provenanceverify" in first
    assert document["sections"]["manifest"] in first  # the PDF cites the manifest hash
    assert "Contents" in pages[1] and "AppendixA.Manifest" in pages[1]
    assert document["sha256"] in squeezed
    assert report["manifest"]["corpus"]["sha256"] in squeezed
    assert report["manifest"]["final_weights_sha256"] in squeezed
    # Per-document hashes are in the JSON only; no dict literal, no design-document reference.
    assert not any(d["sha256"] in squeezed for d in report["manifest"]["corpus"]["documents"])
    assert "{'" not in squeezed and "DESIGN" not in squeezed


def test_numbers_never_claim_more_than_they_measure(document):
    """No share is negative or above 100%, harmful rows have none, and a takedown estimate
    never exceeds the target's measured drop unless flagged (issue 19)."""
    report = document["report"]
    rows = report["contributors"] + report["harmful"]
    rows += [r for groups in report["rollups"].values() for r in groups]
    for row in rows:
        if row["specific"] <= 0:
            assert row["share"] is None
        else:
            assert 0 <= row["share"] <= 1
    drop = report["efficiency"]["measured_drop"]
    for groups in report["rollups"].values():
        for row in groups:
            takedown = row["takedown"]
            assert takedown["first_order"] == row["raw"]
            assert takedown["estimate"] <= drop
            assert takedown["exceeds_measured_drop"] == (row["raw"] > drop)
    assert report["efficiency"]["verdict"]
