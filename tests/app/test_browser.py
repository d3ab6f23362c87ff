"""The Attribution page in a real browser (tests/app/browser.py: Debian's chromium, Playwright)
on the seeded fixture ledger."""

from __future__ import annotations

from pathlib import Path

from tests.app.browser import RENDER_TIMEOUT_MS, choose, chromium_page, screenshot
from tests.app.browser import wait_idle as _wait_idle
from tests.app.conftest import KNOWN_TARGET, KNOWN_TOP


def _expect_top_document(page, doc_key: str) -> None:
    """The document detail picker starts at rank 1 of the top table."""
    from playwright.sync_api import expect

    picker = page.get_by_role("combobox", name="Document", exact=True)
    expect(picker).to_have_value(doc_key, timeout=RENDER_TIMEOUT_MS)


def test_attribution_page_in_a_real_browser(server: str, tmp_path: Path) -> None:
    with chromium_page(height=2200) as page:
        page.goto(f"{server}/attribution")
        page.get_by_text("Top contributors").wait_for(timeout=RENDER_TIMEOUT_MS)
        _wait_idle(page)
        choose(page, "Target", "t-other")
        page.get_by_text("Remember the ladies, and be generous.").first.wait_for()
        _expect_top_document(page, "doc-a")
        choose(page, "Target", KNOWN_TARGET)
        page.get_by_text("We hold these truths").first.wait_for()
        _expect_top_document(page, KNOWN_TOP)
        # The bar chart names the top document too (Plotly draws its labels as SVG text).
        plots = page.locator(".js-plotly-plot")  # the efficiency chart comes first
        plots.first.wait_for(timeout=RENDER_TIMEOUT_MS)
        assert any(KNOWN_TOP in plots.nth(i).inner_text() for i in range(plots.count()))
        assert page.locator("script:has-text(\"alert('x')\")").count() == 0
        screenshot(page, tmp_path, "attribution.png")
