"""A PDF report needs no browser (issue 17): on a machine without Chromium it is made the
same way, with its value bars drawn as text, and no chart image to wait for."""

from __future__ import annotations

import io
import json
import sys

from pypdf import PdfReader

from provenance.reports.export import render


def test_the_pdf_is_made_without_any_browser(ledgered, monkeypatch):
    document = json.loads(ledgered.report("json").read_bytes())

    for browser_driver in ("kaleido", "choreographer"):  # as on a machine without them
        monkeypatch.setitem(sys.modules, browser_driver, None)
    reader = PdfReader(io.BytesIO(render(document, "pdf")))
    text = "".join("".join(page.extract_text().split()) for page in reader.pages)
    assert sum(len(page.images) for page in reader.pages) == 0
    assert "█" in text  # the leading documents' value bars
    assert document["sha256"] in text
