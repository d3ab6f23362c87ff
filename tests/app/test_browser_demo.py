"""The demo's story and the analyst's path in a real browser (issues 17 and 19), on the ledger
`provenance demo` writes: the first screen shows the reproduction and its leading source; one
click opens its attribution with the shared span highlighted in both texts; the top document's
view; a title search on Documents; one more click prepares the PDF report, which names the
work. The README's screenshots are taken here:

    PROVENANCE_SCREENSHOT_DIR=docs/screenshots .venv/bin/python -m pytest -m slow \
        tests/app/test_browser_demo.py
"""

from __future__ import annotations

from pathlib import Path

import pytest

from provenance import demo
from provenance.demo_corpus import REGISTERED_WORKS
from tests.app.browser import (
    RENDER_TIMEOUT_MS,
    chromium_page,
    click_first_row,
    screenshot,
    serve_ui,
    wait_idle,
)

LAMPLIGHTER = REGISTERED_WORKS[0]


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("demo") / "provenance-data"
    demo.run(out, f"sqlite:///{out / 'ledger.sqlite3'}", say=lambda _: None)
    return out


@pytest.mark.slow  # runs the demo (about 45 s idle), then the UI server and a browser
def test_the_demo_story_and_the_analysts_path(demo_dir: Path, tmp_path: Path) -> None:
    from pypdf import PdfReader

    with serve_ui(demo_dir, tmp_path / "ui.log") as base, chromium_page(height=2600) as page:
        # open: the first screen tells the story
        page.goto(base)
        page.get_by_text("Start here").first.wait_for(timeout=RENDER_TIMEOUT_MS)
        wait_idle(page)
        assert page.get_by_text(LAMPLIGHTER.title).count() > 0  # the reproduction's source
        screenshot(page, tmp_path, "start-here.png")

        # pick an output: one click opens its attribution, spans highlighted in both texts
        page.get_by_role("button", name="Open its attribution").first.click()
        page.get_by_text("Top contributors").first.wait_for(timeout=RENDER_TIMEOUT_MS)
        wait_idle(page)
        marks = page.locator("mark")
        marks.first.wait_for(timeout=RENDER_TIMEOUT_MS)
        highlighted = " ".join(marks.all_inner_texts()).lower()
        assert "ladder" in highlighted and "lamps" in highlighted, highlighted[:300]
        screenshot(page, tmp_path, "attribution-top.png")  # the output, its top documents
        # the detail's heading at the top of the window: the spans, then both texts
        page.get_by_text("Document detail").first.evaluate("e => e.scrollIntoView(true)")
        page.wait_for_timeout(300)
        assert page.locator("mark").count() >= 2  # in the document and in the target
        screenshot(page, tmp_path, "attribution-reproduction.png")

        # one more click: the PDF report of the reproduction, naming the work
        page.get_by_role("button", name="Prepare PDF").first.click()
        download_button = page.get_by_role("button", name="Download PDF report").first
        download_button.wait_for(timeout=RENDER_TIMEOUT_MS * 3)
        with page.expect_download(timeout=RENDER_TIMEOUT_MS) as download:
            download_button.click()
        pdf = tmp_path / "report.pdf"
        download.value.save_as(pdf)

        # search a document by title, open its view: trained on, rank for every output
        page.goto(f"{base}/documents")
        box = page.get_by_label("Search documents")
        box.wait_for(timeout=RENDER_TIMEOUT_MS)
        box.fill("Quiet Birds")
        box.press("Enter")
        wait_idle(page)
        page.get_by_text("documents match").first.wait_for(timeout=RENDER_TIMEOUT_MS)
        click_first_row(page.locator('[data-testid="stDataFrame"]').first)
        wait_idle(page)
        page.get_by_text("Trained on in run").first.wait_for(timeout=RENDER_TIMEOUT_MS)
        screenshot(page, tmp_path, "documents.png")
    text = " ".join(" ".join(p.extract_text() for p in PdfReader(pdf).pages).split())
    assert LAMPLIGHTER.title in text
    assert "manifest" in text.lower()
