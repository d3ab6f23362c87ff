"""A real browser against `provenance ui`: Debian's chromium driven by Playwright (no browser
download; `.ci/install-browser` installs it). Without chromium the test skips, except under
CI=true, where it fails.

The screenshot lands in the test's tmp folder, or in $PROVENANCE_SCREENSHOT_DIR when set.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.app.conftest import KNOWN_TARGET, KNOWN_TOP, seed_fixture_ledger

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
START_TIMEOUT_S = 60
RENDER_TIMEOUT_MS = 30_000


def _require_chromium() -> None:
    if CHROMIUM.exists():
        return
    reason = f"{CHROMIUM} missing; install it with .ci/install-browser"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true: the browser test must run)")
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _provenance() -> list[str]:
    script = Path(sys.executable).parent / "provenance"
    return [str(script)] if script.exists() else [sys.executable, "-m", "provenance.cli"]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    data_dir = tmp_path / "provenance-data"
    seed_fixture_ledger(f"sqlite:///{data_dir / 'ledger.sqlite3'}")
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k != "PROVENANCE_DB_URL"}
    log = (tmp_path / "ui.log").open("w")
    process = subprocess.Popen(
        [*_provenance(), "ui", "--out", str(data_dir), "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group, stopped as a whole below
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                with urllib.request.urlopen(f"{base}/_stcore/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                log.flush()
                pytest.fail(f"`provenance ui` did not start:\n{(tmp_path / 'ui.log').read_text()}")
            time.sleep(0.3)
        yield base
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()


def _wait_idle(page) -> None:
    """Wait until Streamlit has finished the current script run (no running indicator)."""
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')",
        timeout=RENDER_TIMEOUT_MS,
    )


def _choose(page, label: str, option: str) -> None:
    page.get_by_role("combobox", name=label, exact=True).click()
    page.get_by_role("option", name=option, exact=True).click()
    _wait_idle(page)


def _expect_top_document(page, doc_key: str) -> None:
    """The document detail picker starts at rank 1 of the top table."""
    from playwright.sync_api import expect

    picker = page.get_by_role("combobox", name="Document", exact=True)
    expect(picker).to_have_value(doc_key, timeout=RENDER_TIMEOUT_MS)


def test_attribution_page_in_a_real_browser(server: str, tmp_path: Path) -> None:
    _require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_FLAGS
        )
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 2200})
            page.goto(f"{server}/attribution")
            page.get_by_text("Top contributors").wait_for(timeout=RENDER_TIMEOUT_MS)
            _wait_idle(page)
            _choose(page, "Target", "t-other")
            page.get_by_text("Remember the ladies, and be generous.").first.wait_for()
            _expect_top_document(page, "doc-a")
            _choose(page, "Target", KNOWN_TARGET)
            page.get_by_text("We hold these truths").first.wait_for()
            _expect_top_document(page, KNOWN_TOP)
            # The bar chart names the top document too (Plotly draws its labels as SVG text).
            plots = page.locator(".js-plotly-plot")  # the efficiency chart comes first
            plots.first.wait_for(timeout=RENDER_TIMEOUT_MS)
            assert any(KNOWN_TOP in plots.nth(i).inner_text() for i in range(plots.count()))
            assert page.locator("script:has-text(\"alert('x')\")").count() == 0
            out = Path(os.environ.get("PROVENANCE_SCREENSHOT_DIR") or tmp_path)
            out.mkdir(parents=True, exist_ok=True)
            shot = out / "attribution.png"
            page.screenshot(path=str(shot), full_page=True)
            assert shot.stat().st_size > 10_000
        finally:
            browser.close()
