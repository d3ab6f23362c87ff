"""A real browser against `provenance ui`, shared by the browser tests: Debian's chromium driven
by Playwright (no browser download; `.ci/install-browser` installs it). Without chromium the
tests skip, except under CI=true, where they fail.

Screenshots land in the test's tmp folder, or in $PROVENANCE_SCREENSHOT_DIR when set (the
README's images are taken with PROVENANCE_SCREENSHOT_DIR=docs/screenshots).
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
from contextlib import contextmanager
from pathlib import Path

import pytest

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
RENDER_TIMEOUT_MS = 60_000


def require_chromium() -> None:
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


@contextmanager
def serve_ui(data_dir: Path, log_path: Path) -> Iterator[str]:
    """`provenance ui` on `data_dir` (its SQLite ledger) on a free port; yields the base URL
    and stops the whole process group afterwards."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k != "PROVENANCE_DB_URL"}
    with log_path.open("w") as log:
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
                    pytest.fail(f"`provenance ui` did not start:\n{log_path.read_text()}")
                time.sleep(0.3)
            yield base
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


@contextmanager
def chromium_page(width: int = 1400, height: int = 1800):
    """A Playwright page in Debian's chromium, closed afterwards."""
    require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_FLAGS
        )
        try:
            yield browser.new_page(viewport={"width": width, "height": height})
        finally:
            browser.close()


def wait_idle(page) -> None:
    """Wait until Streamlit has finished the current script run (no running indicator), and
    the page has stopped changing for a moment."""
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')",
        timeout=RENDER_TIMEOUT_MS,
    )
    page.wait_for_timeout(500)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')",
        timeout=RENDER_TIMEOUT_MS,
    )


def choose(page, label: str, option: str) -> None:
    page.get_by_role("combobox", name=label, exact=True).click()
    page.get_by_role("option", name=option, exact=True).click()
    wait_idle(page)


def screenshot(page, tmp_path: Path, name: str) -> Path:
    """A full-page PNG under $PROVENANCE_SCREENSHOT_DIR (else tmp_path)."""
    out = Path(os.environ.get("PROVENANCE_SCREENSHOT_DIR") or tmp_path)
    out.mkdir(parents=True, exist_ok=True)
    shot = out / name
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000, f"{shot} looks empty"
    return shot


def click_first_row(grid) -> None:
    """Click the selection box of a table's first row (Glide grid: drawn on a canvas)."""
    grid.scroll_into_view_if_needed()
    grid.click(position={"x": 18, "y": 35 + 17})  # below the 35 px header, the row marker
