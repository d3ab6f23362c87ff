"""One writer committing a run's progress while 8 UI readers browse, on SQLite and PostgreSQL:
no error reaches a reader or the writer ("database is locked" included), every read sees a
committed state (never a half-written commit), and the p95 read latency is reported.

The writer commits as provenance.ledger_writer does (absolute document values, a snapshot,
visits, efficiency points and the committed step in one transaction); the readers call the
app's reads (db/catalog.py, db/rankings.py) in read sessions, as app/data.py does.
Fast: 3 s per database; full: 60 s per database (the issue's figure). tests/db/
test_ledger_concurrency.py covers the bulk value write alone.
"""

from __future__ import annotations

import random
import threading
import time

import numpy as np
from reliability_helpers import full
from sqlalchemy import select

from benchmarks.ledger_seed import document, seed_ledger
from db import catalog, listings, rankings
from db.catalog import TargetRecord
from db.models import Run, TargetOrigin
from db.schema import upgrade
from db.session import make_engine, make_sessionmaker, session_scope
from db.values import (
    EfficiencyRecord,
    write_document_values,
    write_efficiency,
    write_snapshots,
    write_visits,
)

N_READERS = 8
N_DOCUMENTS = 2_000
ROWS_PER_STEP = 16
TARGETS = ("t1", "t2")
SOURCES = [f"publisher-{i}" for i in range(12)]


def _prepare(url: str):
    engine = make_engine(url)
    upgrade(engine)
    write = make_sessionmaker(engine, write=True)
    docs = [
        document(
            f"d{i:05d}", f"text {i}", source=SOURCES[i % len(SOURCES)], title=f"<b>title {i}</b>"
        )
        for i in range(N_DOCUMENTS)
    ]
    targets = [TargetRecord(t, f"target {t}", TargetOrigin.UPLOADED) for t in TARGETS]
    # More steps than the writer commits in the load: each committed step lies within the run.
    ids = seed_ledger(
        write, docs, targets, steps=10**6, corpus_sha256="b" * 64, corpus_path="load.jsonl"
    )
    return engine, ids


def _commit(write, ids: np.ndarray, step: int, rng: np.random.Generator) -> None:
    """One ledger commit: what LedgerWriter.commit writes for one step."""
    with session_scope(write) as session:
        for target in TARGETS:
            raw, specific = rng.normal(size=(2, len(ids)))
            write_document_values(session, "r1", target, ids, raw, specific)
            top = np.argsort(-specific, kind="stable")[:20]
            write_snapshots(session, "r1", target, step + 1, ids[top], specific[top])
            rows = rng.choice(ids, ROWS_PER_STEP, replace=False)
            write_visits(session, "r1", target, step, rows, rng.normal(size=ROWS_PER_STEP))
        write_efficiency(session, "r1", [EfficiencyRecord(step, t, 0.1, 0.1, 1.0) for t in TARGETS])
        run = session.execute(select(Run).where(Run.run_key == "r1")).scalar_one()
        run.committed_step = step + 1


READS = {
    "totals": lambda s, doc: listings.totals(s),
    "list_runs": lambda s, doc: listings.list_runs(s),
    "list_targets": lambda s, doc: listings.list_targets(s, "r1"),
    "top_documents": lambda s, doc: rankings.top_documents(s, "r1", "t1", 50),
    "rollup": lambda s, doc: rankings.rollup(s, "r1", "t1", "source"),
    "trajectories": lambda s, doc: rankings.trajectories(s, "r1", "t2"),
    "efficiency_check": lambda s, doc: rankings.efficiency_check(s, "r1", "t1"),
    "document_detail": lambda s, doc: catalog.document_detail(s, "r1", doc),
    "document_contributions": lambda s, doc: rankings.document_contributions(s, "r1", doc),
    "negative_documents": lambda s, doc: rankings.negative_documents(s, "r1"),
}


def run_load(url: str, seconds: float) -> dict:
    engine, ids = _prepare(url)
    write, read = make_sessionmaker(engine, write=True), make_sessionmaker(engine)
    _commit(write, ids, 0, np.random.default_rng(0))
    stop = threading.Event()
    errors: list[BaseException] = []
    latencies: dict[str, list[float]] = {name: [] for name in READS}
    commits = [1]
    lock = threading.Lock()

    def writer() -> None:
        rng = np.random.default_rng(1)
        try:
            while not stop.is_set():
                _commit(write, ids, commits[0], rng)
                commits[0] += 1
        except BaseException as err:
            errors.append(err)

    def reader(seed: int) -> None:
        rng = random.Random(seed)
        try:
            while not stop.is_set():
                name = rng.choice(sorted(READS))
                doc = f"d{rng.randrange(N_DOCUMENTS):05d}"
                start = time.perf_counter()
                with session_scope(read) as session:
                    result = READS[name](session, doc)
                    if name == "top_documents":  # a committed state: all 50, ranked
                        assert len(result) == 50
                        assert result["rank"].tolist() == list(range(1, 51))
                    if name == "totals":
                        assert result is not None
                elapsed = time.perf_counter() - start
                with lock:
                    latencies[name].append(elapsed)
        except BaseException as err:
            errors.append(err)

    threads = [threading.Thread(target=writer)]
    threads += [threading.Thread(target=reader, args=(k,)) for k in range(N_READERS)]
    for thread in threads:
        thread.start()
    time.sleep(seconds)
    stop.set()
    for thread in threads:
        thread.join(120)
    engine.dispose()
    assert not any(thread.is_alive() for thread in threads)
    assert errors == [], f"{len(errors)} errors reached callers, first: {errors[0]!r}"
    every = np.array([t for values in latencies.values() for t in values])
    assert commits[0] > 1 and len(every) > N_READERS
    p50, p95, worst = np.percentile(every, [50, 95, 100]) * 1e3
    report = {
        "dialect": engine.dialect.name,
        "seconds": seconds,
        "commits": commits[0],
        "reads": len(every),
        "p50_ms": p50,
        "p95_ms": p95,
        "max_ms": worst,
        "p95_ms_by_read": {k: float(np.percentile(v, 95) * 1e3) for k, v in latencies.items() if v},
    }
    print(
        f"\n[{report['dialect']}] {seconds:g} s, 1 writer + {N_READERS} readers: "
        f"{report['commits']} commits, {report['reads']} reads, 0 errors; read latency "
        f"p50 {p50:.1f} ms, p95 {p95:.1f} ms, max {worst:.1f} ms; p95 by read (ms): "
        + ", ".join(f"{k} {v:.0f}" for k, v in sorted(report["p95_ms_by_read"].items()))
    )
    return report


def test_writer_and_eight_ui_readers_see_no_errors(any_url):
    run_load(any_url, 3.0)


@full
def test_writer_and_eight_ui_readers_for_sixty_seconds(any_url):
    report = run_load(any_url, 60.0)
    assert report["reads"] > 100 and report["commits"] > 10
