"""Asking about a document in a real browser (tests/app/browser.py) on the fixture ledger: a
click on the top-contributors chart opens that document in the detail; the Documents page
finds a document by its title and a row click opens its view."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.app.browser import RENDER_TIMEOUT_MS, choose, chromium_page, click_first_row, screenshot
from tests.app.browser import wait_idle as _wait_idle
from tests.app.conftest import KNOWN_TARGET, RUN


@pytest.mark.slow  # starts the UI server and a browser (~20-40 s on the shared machine)
def test_a_chart_click_opens_the_document_and_a_title_search_finds_it(
    server: str, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    with chromium_page(height=2400) as page:
        page.goto(f"{server}/attribution")
        page.get_by_text("Top contributors").wait_for(timeout=RENDER_TIMEOUT_MS)
        _wait_idle(page)
        choose(page, "Target", KNOWN_TARGET)
        picker = page.get_by_role("combobox", name="Document", exact=True)
        expect(picker).to_have_value("doc-copy", timeout=RENDER_TIMEOUT_MS)
        # Rank 2's bar (bars are drawn rank 1 on top): the detail follows the click.
        chart = page.locator(".js-plotly-plot").nth(1)
        chart.scroll_into_view_if_needed()
        bar = chart.locator(".bars .point path").nth(-2).bounding_box()
        assert bar is not None
        # Plotly's drag layer lies over the bars and turns a click there into plotly_click.
        page.mouse.click(bar["x"] + bar["width"] / 2, bar["y"] + bar["height"] / 2)
        _wait_idle(page)
        expect(picker).to_have_value("doc-para", timeout=RENDER_TIMEOUT_MS)
        screenshot(page, tmp_path, "attribution-click-through.png")

        page.goto(f"{server}/documents")
        box = page.get_by_label("Search documents")
        box.wait_for(timeout=RENDER_TIMEOUT_MS)
        box.fill("Declaration")
        box.press("Enter")
        _wait_idle(page)
        page.get_by_text("1 document matches").wait_for(timeout=RENDER_TIMEOUT_MS)
        click_first_row(page.locator('[data-testid="stDataFrame"]').first)
        _wait_idle(page)
        page.get_by_text(f"Run {RUN}").first.wait_for(timeout=RENDER_TIMEOUT_MS)
        screenshot(page, tmp_path, "documents.png")
