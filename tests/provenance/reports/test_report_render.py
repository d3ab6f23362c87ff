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
    assert "<script src" not in page and "<link" not in page  # plotly.js inline: offline
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


def test_pdf_renders_with_the_top_document_and_the_manifest_hash(ledgered, document):
    path = ledgered.report("pdf")
    reader = PdfReader(io.BytesIO(path.read_bytes()))
    text = "\n".join(page.extract_text() for page in reader.pages)
    squeezed = "".join(text.split())  # extraction may add spaces between words
    assert len(reader.pages) >= 2
    assert "#1doc-004" in squeezed
    assert document["sha256"] in squeezed
    assert document["report"]["manifest"]["corpus"]["sha256"] in squeezed
    assert document["report"]["manifest"]["final_weights_sha256"] in squeezed
    images = sum(len(page.images) for page in reader.pages)
    assert images >= 4  # top documents, three roll-ups, trajectories, similarity
