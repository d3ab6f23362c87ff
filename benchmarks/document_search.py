"""How long "ask about my document" takes on a ledger the size of a big demo (issue 19 item 5:
17,159 documents, 4,391 of them trained on).

Seeds a fresh SQLite ledger (one corpus of N paragraphs of ~60 words, one run of S steps of
8 rows that visits T distinct documents, three user targets with values for those documents
and per-visit values at every step), then times, each as the median of `--repeats` runs:
- `search_documents` for a word in every text (first page of 50 and the total), a rare word,
  a document id, and a title, in fresh read sessions;
- `document_visits` for a trained and a never-trained document (reads every step's visits);
- the Documents page under AppTest: a search, then a document opened (its runs, targets,
  visits), cold (cached reads cleared) and warm.

    .venv/bin/python -m benchmarks.document_search [--documents 17159] [--trained 4391]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from benchmarks.ledger_seed import document, seed_ledger
from db.catalog import TargetRecord, commit_step
from db.models import TargetOrigin
from db.search import search_documents
from db.session import make_engine, make_sessionmaker, session_scope
from db.values import document_visits, write_document_values, write_visits

ROOT = Path(__file__).resolve().parents[1]
RUN = "bench-run"
TARGETS = ("gen-0", "gen-1", "gen-2")
VOCABULARY = "the of and to a in that it for nation people government law war peace trade"
ROWS = 8  # rows per step


def seed(url: str, n: int, trained: int, seed_: int = 0) -> tuple[str, str]:
    """The ledger; returns (a trained document's id, a never-trained one's)."""
    rng = np.random.default_rng(seed_)
    docs = [
        document(
            f"{1790 + i % 230}-speaker/p{i}",
            " ".join(rng.choice(VOCABULARY.split(), 60)) + (" lamplighter" if i == n // 2 else ""),
            title=f"State of the Union {1790 + i % 230}",
            source="sotu",
        )
        for i in range(n)
    ]
    engine = make_engine(url)
    from db.schema import upgrade

    upgrade(engine)
    factory = make_sessionmaker(engine, write=True)
    targets = [TargetRecord(t, f"text of {t}", TargetOrigin.GENERATED) for t in TARGETS]
    steps = -(-trained // ROWS)
    ids = seed_ledger(factory, docs, targets, run_key=RUN, steps=steps)
    visited = rng.permutation(n)[:trained]
    with session_scope(factory) as session:
        for target in TARGETS:
            write_document_values(
                session,
                RUN,
                target,
                ids[visited],
                rng.normal(size=trained),
                rng.normal(size=trained),
            )
            for step in range(steps):
                rows = ids[visited[step * ROWS : (step + 1) * ROWS]]
                write_visits(session, RUN, target, step, rows, rng.normal(size=len(rows)))
        commit_step(session, RUN, steps, final_weights_sha256="3" * 64)
    engine.dispose()
    never = next(i for i in range(n) if i not in set(visited.tolist()))
    return docs[visited[0]].doc_key, docs[never].doc_key


def median_s(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, default=17_159)
    parser.add_argument("--trained", type=int, default=4_391)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="document-search-"))
    url = f"sqlite:///{folder / 'ledger.sqlite3'}"
    started = time.perf_counter()
    trained, never = seed(url, args.documents, args.trained)
    print(
        f"seeded {args.documents:,} documents ({args.trained:,} trained on) in "
        f"{time.perf_counter() - started:.1f} s; load average {os.getloadavg()[0]:.2f}"
    )
    engine = make_engine(url)
    read = make_sessionmaker(engine)

    def timed(label: str, fn: Callable) -> None:
        def once() -> object:
            with session_scope(read) as session:
                return fn(session)

        result = once()
        extra = f" ({result.total:,} matches)" if hasattr(result, "total") else ""
        print(f"{label:<48} {1000 * median_s(once, args.repeats):8.1f} ms{extra}")

    timed("search 'nation' in id, title or text", lambda s: search_documents(s, "nation"))
    timed("search 'lamplighter' (one text)", lambda s: search_documents(s, "lamplighter"))
    timed("search an id", lambda s: search_documents(s, trained, field="id"))
    timed("search a title", lambda s: search_documents(s, "Union 1862", field="title"))
    timed("search 'nation', page 40", lambda s: search_documents(s, "nation", offset=2_000))
    timed("visits of a trained document", lambda s: document_visits(s, RUN, trained))
    timed("visits of a never-trained document", lambda s: document_visits(s, RUN, never))
    engine.dispose()

    import streamlit as st
    from streamlit.testing.v1 import AppTest

    from app import document_view

    os.environ["PROVENANCE_DATA_DIR"] = str(folder)
    os.environ.pop("PROVENANCE_DB_URL", None)
    page = str(ROOT / "app" / "views" / "documents.py")

    def render(cold: bool) -> None:
        if cold:
            st.cache_data.clear()
        at = AppTest.from_file(page, default_timeout=120)
        at.session_state[document_view.OPEN_STATE] = (1, trained)
        at.run()
        at.text_input(key="documents_query").set_value("nation").run()
        assert not at.exception, [e.value for e in at.exception]

    render(cold=True)  # imports
    print(
        f"{'Documents page: document + search, cold':<48} "
        f"{1000 * median_s(lambda: render(True), args.repeats):8.1f} ms (two script runs)"
    )
    print(
        f"{'Documents page: document + search, warm':<48} "
        f"{1000 * median_s(lambda: render(False), args.repeats):8.1f} ms (two script runs)"
    )
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
