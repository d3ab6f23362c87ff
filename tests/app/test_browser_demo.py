"""The demo's story in a real browser (issue 17): the first screen shows the reproduction and
its leading source; one click opens its attribution with the shared span highlighted in both
texts; one more prepares the PDF report, which names the work. The README's screenshots are
taken here: PROVENANCE_SCREENSHOT_DIR=docs/screenshots pytest -m slow tests/app/test_browser_demo.py
"""

from __future__ import annotations

from pathlib import Path

import pytest

from provenance import demo
from provenance.demo_corpus import REGISTERED_WORKS
from tests.app.browser import RENDER_TIMEOUT_MS, chromium_page, screenshot, serve_ui, wait_idle

LAMPLIGHTER = REGISTERED_WORKS[0]


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("demo") / "provenance-data"
    demo.run(out, f"sqlite:///{out / 'ledger.sqlite3'}", say=lambda _: None)
    return out


@pytest.mark.slow
def test_the_demo_story_in_a_real_browser(demo_dir: Path, tmp_path: Path) -> None:
    from pypdf import PdfReader

    with serve_ui(demo_dir, tmp_path / "ui.log") as base, chromium_page() as page:
        page.goto(base)
        page.get_by_text("Start here").first.wait_for(timeout=RENDER_TIMEOUT_MS)
        wait_idle(page)
        assert page.get_by_text(LAMPLIGHTER.title).count() > 0  # the reproduction's source
        screenshot(page, tmp_path, "start-here.png")

        page.get_by_role("button", name="Open its attribution").first.click()  # one click
        page.get_by_text("Top contributors").first.wait_for(timeout=RENDER_TIMEOUT_MS)
        wait_idle(page)
        marks = page.locator("mark")
        marks.first.wait_for(timeout=RENDER_TIMEOUT_MS)
        highlighted = " ".join(marks.all_inner_texts()).lower()
        # the longest shared span, marked in the document and in the target alike
        assert "lamplighter" in highlighted or "ladder" in highlighted, highlighted[:300]
        assert marks.count() >= 2
        marks.first.scroll_into_view_if_needed()
        screenshot(page, tmp_path, "attribution-reproduction.png")

        page.get_by_role("button", name="Prepare PDF").first.click()  # one more
        download_button = page.get_by_role("button", name="Download PDF").first
        download_button.wait_for(timeout=RENDER_TIMEOUT_MS * 3)
        with page.expect_download(timeout=RENDER_TIMEOUT_MS) as download:
            download_button.click()
        pdf = tmp_path / "report.pdf"
        download.value.save_as(pdf)
    text = " ".join(p.extract_text() for p in PdfReader(pdf).pages)
    assert LAMPLIGHTER.title in " ".join(text.split())
