"""A PDF report on a machine where kaleido cannot draw: no browser, or one that never answers.

kaleido waits forever for a browser that is not there, so the PDF must find that out quickly,
come out without charts and say so, while the HTML report keeps every chart.
"""

from __future__ import annotations

import io
import json
import threading
import time

import pytest
from choreographer.browsers.chromium import Chromium
from pypdf import PdfReader

from provenance.reports import pdf
from provenance.reports.export import render


@pytest.fixture(scope="module")
def document(ledgered):
    return json.loads(ledgered.report("json").read_bytes())


def _text(data: bytes) -> tuple[str, int]:
    reader = PdfReader(io.BytesIO(data))
    text = "".join("".join(page.extract_text().split()) for page in reader.pages)
    return text, sum(len(page.images) for page in reader.pages)


def test_without_a_browser_the_pdf_is_made_quickly_and_marked_chartless(document, monkeypatch):
    # choreographer's own lookup, which kaleido uses, finds nothing (as on a bare machine).
    monkeypatch.setattr(Chromium, "find_browser", classmethod(lambda cls, **_: None))
    started = time.perf_counter()
    data = render(document, "pdf")
    assert time.perf_counter() - started < 30  # kaleido would wait forever
    text, images = _text(data)
    assert images == 0
    assert "ThisPDFhasnocharts:noChromiumorChromebrowserwasfound" in text
    assert "TheHTMLreportofthesamereporthaseverychart" in text
    assert document["sha256"] in text
    assert document["report"]["manifest"]["corpus"]["sha256"] in text
    html = render(document, "html").decode("utf-8")
    assert html.count('class="plotly-graph-div"') >= 4  # the HTML still draws every chart


def test_a_browser_that_never_draws_times_out_into_a_chartless_pdf(document, monkeypatch):
    release = threading.Event()

    def stuck(shown):
        release.wait(30)  # as kaleido does when its browser cannot start
        return []

    monkeypatch.setattr(Chromium, "find_browser", classmethod(lambda cls, **_: "/usr/bin/x"))
    monkeypatch.setattr(pdf, "_draw", stuck)
    monkeypatch.setattr(pdf, "CHART_SECONDS", 0.3)
    try:
        with pytest.raises(pdf.ChartExportError, match=r"within 0\.3 s"):
            pdf.chart_images(document["report"], timeout=0.3)
        text, images = _text(pdf.render_pdf(document))
    finally:
        release.set()
    assert images == 0
    assert "ThisPDFhasnocharts:thebrowserdidnotdrawthechartswithin0.3s" in text
