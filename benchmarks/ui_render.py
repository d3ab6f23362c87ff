"""Render time of the Attribution page on a 100,000-document run (issue 5 target: <= 2 s).

Seeds a fresh SQLite ledger through the repository writers (one corpus of N documents, one
run, two user targets and a reference target, value snapshots and efficiency points), then
renders app/views/attribution.py under Streamlit's AppTest:
- "cold": the first render on this ledger (every cached read misses; the Python modules are
  already imported by a warm-up render of the empty-ledger page, as in a running server);
- "warm": a rerun, as after a widget change that keeps the run and target (reads cached);
- "switch": choosing the other target (its reads miss).
AppTest runs the script and serialises every element as the server does; the browser's own
drawing is not included.

    .venv/bin/python -m benchmarks.ui_render [--documents 100000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.ledger_seed import document, seed_ledger
from db.catalog import TargetRecord
from db.models import TargetOrigin
from db.schema import upgrade
from db.session import make_engine, make_sessionmaker, session_scope
from db.values import EfficiencyRecord, write_document_values, write_efficiency, write_snapshots

ROOT = Path(__file__).resolve().parents[1]
RUN = "bench-run"
TARGETS = ("target-a", "target-b")
SOURCES = 50


def seed(url: str, n: int, seed_: int = 0) -> float:
    started = time.perf_counter()
    engine = make_engine(url)
    upgrade(engine)
    factory = make_sessionmaker(engine, write=True)
    rng = np.random.default_rng(seed_)
    docs = [
        document(
            f"doc-{i:06d}",
            f"Document {i} text. " * 20,
            source=f"source-{i % SOURCES}",
            author=f"author-{i % 500}",
            license=("cc-by", "public-domain", "proprietary")[i % 3],
            title=f"Title {i}",
        )
        for i in range(n)
    ]
    targets = [TargetRecord(t, f"The text of {t}.", TargetOrigin.FILE) for t in TARGETS]
    targets.append(TargetRecord("reference:doc-000000", "reference", TargetOrigin.REFERENCE))
    ids = seed_ledger(
        factory,
        docs,
        targets,
        run_key=RUN,
        steps=100,
        corpus_sha256="b" * 64,
        corpus_path="/bench/corpus.jsonl",
    )
    for target in (*TARGETS, "reference:doc-000000"):
        specific = rng.normal(0, 1e-3, n)
        with session_scope(factory) as session:
            write_document_values(session, RUN, target, ids, specific + 1e-4, specific)
            top = np.argsort(-specific)[:20]
            for step in range(0, 100, 10):
                write_snapshots(session, RUN, target, step, ids[top], specific[top] * step / 100)
    with session_scope(factory) as session:
        write_efficiency(
            session,
            RUN,
            [EfficiencyRecord(s, t, 0.01, 0.011, 5 - s / 50) for s in range(100) for t in TARGETS],
        )
    engine.dispose()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--documents", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    import streamlit as st
    from streamlit.testing.v1 import AppTest

    page = str(ROOT / "app" / "views" / "attribution.py")
    with tempfile.TemporaryDirectory() as tmp:
        empty_dir, data_dir = Path(tmp) / "empty", Path(tmp) / "data"
        empty_dir.mkdir()
        os.environ.pop("PROVENANCE_DB_URL", None)
        os.environ["PROVENANCE_DATA_DIR"] = str(empty_dir)
        AppTest.from_file(page, default_timeout=120).run()  # imports, as in a running server
        seconds = seed(f"sqlite:///{data_dir / 'ledger.sqlite3'}", args.documents)
        print(
            f"seeded {args.documents:,} documents x {len(TARGETS) + 1} targets in {seconds:.1f} s"
        )
        os.environ["PROVENANCE_DATA_DIR"] = str(data_dir)
        cold, warm, switch = [], [], []
        for _ in range(args.repeats):
            st.cache_data.clear()
            at = AppTest.from_file(page, default_timeout=120)
            start = time.perf_counter()
            at.run()
            cold.append(time.perf_counter() - start)
            assert not at.exception, [e.value for e in at.exception]
            start = time.perf_counter()
            at.run()
            warm.append(time.perf_counter() - start)
            target = next(s for s in at.selectbox if s.label == "Target")
            other = TARGETS[1] if target.value == TARGETS[0] else TARGETS[0]
            start = time.perf_counter()
            target.set_value(other).run()
            switch.append(time.perf_counter() - start)
            assert not at.exception, [e.value for e in at.exception]
    for name, times in (("cold", cold), ("warm", warm), ("switch target", switch)):
        print(
            f"attribution page, {args.documents:,} documents, {name}: median "
            f"{statistics.median(times):.3f} s (runs: {', '.join(f'{t:.3f}' for t in times)})"
        )


if __name__ == "__main__":
    main()
