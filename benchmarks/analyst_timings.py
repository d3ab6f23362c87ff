"""The analyst's waits on the demo ledger (issue 19's goals, on 2 idle cores):

- every page's first render <= 2 s (AppTest, reads not cached; modules already imported, as in
  a running server);
- switching the Attribution page's target <= 1 s;
- evidence for the visible top 20 <= 10 s warm (embedding model loaded, BM25 index built);
- the PDF report for the default top-k <= 15 s and <= 10 pages;
- `provenance top` <= 1 s (a fresh process, as a user types it).

It runs the demo into a temporary folder (or reads --data, a folder `provenance demo` wrote;
it is copied first, so nothing there changes) and prints one line per measurement with the
machine's load average, since timings here are noisy.

    .venv/bin/python -m benchmarks.analyst_timings [--data provenance-data] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGES = sorted((ROOT / "app" / "views").glob("*.py"))
TARGET = "gen-0"  # the demo's reproduction
OTHER_TARGET = "gen-1"
GOALS_S = {"page": 2.0, "switch": 1.0, "evidence": 10.0, "pdf": 15.0, "top": 1.0}
PDF_PAGES_GOAL = 10


def _median(measure: Callable[[], float], repeats: int) -> tuple[float, list[float]]:
    times = [measure() for _ in range(repeats)]
    return statistics.median(times), times


def _line(what: str, seconds: float, goal: float, times: list[float] | None = None) -> str:
    verdict = "meets" if seconds <= goal else "MISSES"
    runs = f" (runs: {', '.join(f'{t:.2f}' for t in times)})" if times else ""
    return f"{what}: {seconds:.2f} s, {verdict} the goal of {goal:g} s{runs}"


def _forget_evidence(url: str) -> None:
    """Empty the copy's evidence and embedding cache, so the evidence timings compute both."""
    from sqlalchemy import text

    from db.session import make_engine

    engine = make_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM evidence"))
        connection.execute(text("DELETE FROM embeddings"))
    engine.dispose()


def _replay_key(url: str) -> str:
    from db.listings import list_runs
    from db.schema import open_ledger
    from db.session import session_scope

    with session_scope(open_ledger(url, write=False)) as session:
        runs = list_runs(session)
    return runs["run_key"][runs["kind"] == "attribute"].iloc[0]


def _pages(data: Path, repeats: int) -> list[str]:
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    os.environ["PROVENANCE_DATA_DIR"] = str(data)
    os.environ.pop("PROVENANCE_DB_URL", None)
    for page in PAGES:  # imports, as in a running server
        AppTest.from_file(str(page), default_timeout=120).run()
    lines = []
    for page in PAGES:

        def first_render(page: Path = page) -> float:
            st.cache_data.clear()
            at = AppTest.from_file(str(page), default_timeout=120)
            started = time.perf_counter()
            at.run()
            elapsed = time.perf_counter() - started
            assert not at.exception, [e.value for e in at.exception]
            return elapsed

        seconds, times = _median(first_render, repeats)
        lines.append(_line(f"page {page.stem}, first render", seconds, GOALS_S["page"], times))

    def switch() -> float:
        st.cache_data.clear()
        at = AppTest.from_file(str(ROOT / "app" / "views" / "attribution.py"), default_timeout=120)
        at.run()
        target = next(s for s in at.selectbox if s.label == "Target")
        other = OTHER_TARGET if target.value != OTHER_TARGET else TARGET
        started = time.perf_counter()
        target.set_value(other).run()
        elapsed = time.perf_counter() - started
        assert not at.exception, [e.value for e in at.exception]
        return elapsed

    seconds, times = _median(switch, repeats)
    lines.append(_line("attribution page, switch target", seconds, GOALS_S["switch"], times))
    return lines


def _evidence(url: str, run_key: str) -> list[str]:
    from db.schema import open_ledger
    from db.session import session_scope
    from provenance.evidence import fill_evidence
    from provenance.ranking import ranked_documents

    factory = open_ledger(url)
    keys = {}
    for target in (TARGET, OTHER_TARGET):
        with session_scope(factory) as session:
            keys[target] = list(ranked_documents(session, run_key, target, 20)["doc_key"])
    started = time.perf_counter()
    fill_evidence(factory, run_key, TARGET, keys[TARGET])  # loads the model, indexes the corpus
    cold = time.perf_counter() - started
    started = time.perf_counter()
    fill_evidence(factory, run_key, OTHER_TARGET, keys[OTHER_TARGET])
    warm = time.perf_counter() - started
    return [
        f"evidence for the top 20 of {TARGET}, cold (model load and index): {cold:.2f} s",
        _line(f"evidence for the top 20 of {OTHER_TARGET}, warm", warm, GOALS_S["evidence"]),
    ]


def _pdf(url: str, run_key: str, out: Path) -> list[str]:
    from pypdf import PdfReader

    from db.schema import open_ledger
    from provenance.reports import export_report

    path = out / "report.pdf"
    started = time.perf_counter()
    export_report(open_ledger(url), run_key, TARGET, "pdf", path, run_dir=out / "runs" / run_key)
    seconds = time.perf_counter() - started
    pages = len(PdfReader(path).pages)
    verdict = "meets" if pages <= PDF_PAGES_GOAL else "MISSES"
    return [
        _line(f"PDF report of {TARGET}", seconds, GOALS_S["pdf"]),
        f"PDF report of {TARGET}: {pages} pages, {verdict} the goal of {PDF_PAGES_GOAL}",
    ]


def _top(data: Path, run_key: str, repeats: int) -> list[str]:
    command = [sys.executable, "-m", "provenance.cli", "top", "--run", run_key]
    command += ["--target", TARGET, "--out", str(data)]

    def once() -> float:
        started = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        return time.perf_counter() - started

    seconds, times = _median(once, repeats)
    return [_line("`provenance top`, a fresh process", seconds, GOALS_S["top"], times)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, help="a folder `provenance demo` wrote")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        url = f"sqlite:///{data / 'ledger.sqlite3'}"
        if args.data:
            shutil.copytree(args.data, data)
            _forget_evidence(url)  # the demo stores its outputs' evidence: time computing it
        else:
            from provenance import demo

            demo.run(data, url, say=lambda _: None)
            _forget_evidence(url)
        run_key = _replay_key(url)
        lines = [f"load average at start: {os.getloadavg()[0]:.2f} (2 cores)"]
        lines += _top(data, run_key, args.repeats)
        lines += _pages(data, args.repeats)
        lines += _evidence(url, run_key)
        lines += _pdf(url, run_key, data)
        lines.append(f"load average at end: {os.getloadavg()[0]:.2f}")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
