"""One writer committing while 8 readers rank documents, on SQLite (a file) and PostgreSQL:
no error reaches a caller ("database is locked" in particular), and reads keep flowing.

Runs for PROVENANCE_LOAD_SECONDS seconds (default 5; the issue's acceptance run uses 30).
The p95 read latency is printed (`pytest -s` shows it).
"""

from __future__ import annotations

import os
import threading
import time

import numpy as np
import pytest

from benchmarks.ledger_seed import document, seed_ledger
from db.catalog import TargetRecord
from db.models import TargetOrigin
from db.rankings import top_documents
from db.session import make_sessionmaker, session_scope
from db.values import write_document_values

N_READERS = 8
N_DOCUMENTS = 2_000  # rows replaced per commit: big enough that a commit takes a while
TOP_K = 50


def _load_seconds() -> float:
    return float(os.environ.get("PROVENANCE_LOAD_SECONDS", "5"))


@pytest.fixture
def loaded(ledger):
    write = make_sessionmaker(ledger, write=True)
    docs = [document(f"d{i}", f"text {i}") for i in range(N_DOCUMENTS)]
    targets = [TargetRecord("t1", "target", TargetOrigin.UPLOADED)]
    ids = seed_ledger(write, docs, targets, corpus_sha256="a" * 64, corpus_path="load.jsonl")
    with session_scope(write) as session:
        write_document_values(session, "r1", "t1", ids, np.zeros(len(ids)), np.zeros(len(ids)))
    return ledger, ids


def test_one_writer_and_eight_readers_see_no_errors(loaded):
    engine, ids = loaded
    write, read = make_sessionmaker(engine, write=True), make_sessionmaker(engine)
    stop = threading.Event()
    errors: list[BaseException] = []
    latencies: list[list[float]] = [[] for _ in range(N_READERS)]  # seconds, per reader
    commits = [0]

    def writer() -> None:
        rng = np.random.default_rng(0)
        try:
            while not stop.is_set():
                raw, specific = rng.normal(size=(2, len(ids)))
                with session_scope(write) as session:
                    write_document_values(session, "r1", "t1", ids, raw, specific)
                commits[0] += 1
        except BaseException as err:
            errors.append(err)

    def reader(mine: list[float]) -> None:
        try:
            while not stop.is_set():
                start = time.perf_counter()
                with session_scope(read) as session:
                    top = top_documents(session, "r1", "t1", TOP_K)
                mine.append(time.perf_counter() - start)
                assert len(top) == TOP_K
        except BaseException as err:
            errors.append(err)

    threads = [threading.Thread(target=writer)]
    threads += [threading.Thread(target=reader, args=(mine,)) for mine in latencies]
    for thread in threads:
        thread.start()
    time.sleep(_load_seconds())
    stop.set()
    for thread in threads:
        thread.join(60)

    assert not any(thread.is_alive() for thread in threads)
    assert errors == [], f"{len(errors)} errors reached callers, first: {errors[0]!r}"
    all_reads = np.array([t for mine in latencies for t in mine])
    assert commits[0] > 0 and all(len(mine) > 0 for mine in latencies)
    p50, p95 = np.percentile(all_reads, [50, 95]) * 1e3
    print(
        f"\n[{engine.dialect.name}] {_load_seconds():g} s: {commits[0]} commits of "
        f"{len(ids)} values, {len(all_reads)} top-{TOP_K} reads by {N_READERS} readers, "
        f"read latency p50 {p50:.1f} ms, p95 {p95:.1f} ms"
    )
