"""Ledger scale: write N documents x T targets of values, then time a top-50 query.

For each backend: a fresh ledger (SQLite file in a temporary directory; PostgreSQL database
created through the `postgres` maintenance database and dropped afterwards), upgraded by the
migrations, then through the repository functions the training loop uses: the corpus and its
documents in one transaction, then each target's absolute values in a transaction of its own
(one `write_document_values` each). Then `top_documents(k=50)` for a random target, each query
in its own session as the UI would issue it; p50 and p95 of the wall time are reported.

    .venv/bin/python -m benchmarks.ledger                      # 1,000,000 documents x 20 targets
    .venv/bin/python -m benchmarks.ledger --documents 50000    # seconds
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
from sqlalchemy import create_engine, text

from benchmarks.ledger_seed import document, seed_ledger
from db.catalog import TargetRecord
from db.models import TargetOrigin
from db.rankings import top_documents
from db.schema import upgrade
from db.session import make_engine, make_sessionmaker, safe_url, session_scope
from db.values import write_document_values

SOURCES = ["news", "books", "web", "forum", "legal"]


def run_backend(url: str, n_documents: int, n_targets: int, n_queries: int, seed: int) -> dict:
    engine = make_engine(url)
    upgrade(engine)
    write, read = make_sessionmaker(engine, write=True), make_sessionmaker(engine)
    rng = np.random.default_rng(seed)

    docs = [
        document(
            f"doc-{i:08d}",
            f"document {i}",
            source=SOURCES[i % len(SOURCES)],
            title=f"Document {i}",
        )
        for i in range(n_documents)
    ]
    keys = [f"t{j:02d}" for j in range(n_targets)]
    start = time.perf_counter()
    ids = seed_ledger(
        write,
        docs,
        [TargetRecord(k, k, TargetOrigin.FILE) for k in keys],
        run_key="bench",
        corpus_sha256="b" * 64,
        corpus_path="bench.jsonl",
    )
    documents_s = time.perf_counter() - start

    start, cpu_start = time.perf_counter(), time.process_time()
    for key in keys:
        raw = rng.standard_normal(n_documents) * 1e-3
        specific = raw + rng.standard_normal(n_documents) * 1e-4
        target_start = time.perf_counter()
        with session_scope(write) as session:
            write_document_values(session, "bench", key, ids, raw, specific)
        # Per-target progress: the write slows as the table and its indexes grow.
        print(f"  {key}: {time.perf_counter() - target_start:.1f} s", file=sys.stderr, flush=True)
    values_s = time.perf_counter() - start
    # This process's CPU seconds: on SQLite all the database work, so a figure that other
    # load on a shared machine inflates far less than the wall time.
    values_cpu_s = time.process_time() - cpu_start

    latencies = []
    for key in rng.choice(keys, size=n_queries):
        start = time.perf_counter()
        with session_scope(read) as session:
            top = top_documents(session, "bench", str(key), 50)
        latencies.append(time.perf_counter() - start)
        assert len(top) == min(50, n_documents)
    engine.dispose()
    ms = np.array(latencies) * 1e3
    return {
        "backend": engine.dialect.name,
        "documents": n_documents,
        "targets": n_targets,
        "rows": n_documents * n_targets,
        "documents_write_s": round(documents_s, 2),
        "values_write_s": round(values_s, 2),
        "values_write_cpu_s": round(values_cpu_s, 2),
        "values_rows_per_s": round(n_documents * n_targets / values_s),
        "load_average_1min": round(os.getloadavg()[0], 1),
        "top50_p50_ms": round(float(np.percentile(ms, 50)), 2),
        "top50_p95_ms": round(float(np.percentile(ms, 95)), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, default=1_000_000)
    parser.add_argument("--targets", type=int, default=20)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument(
        "--pg-admin-url",
        default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
        help="a database from which a scratch database can be created and dropped",
    )
    args = parser.parse_args()

    results = []
    for backend in args.backends.split(","):
        if backend == "sqlite":
            with tempfile.TemporaryDirectory() as tmp:
                url = f"sqlite:///{Path(tmp) / 'ledger.sqlite3'}"
                results.append(
                    run_backend(url, args.documents, args.targets, args.queries, args.seed)
                )
        elif backend == "postgresql":
            admin = create_engine(args.pg_admin_url, isolation_level="AUTOCOMMIT")
            name = f"provenance_bench_{uuid.uuid4().hex[:8]}"
            with admin.connect() as connection:
                connection.execute(text(f'CREATE DATABASE "{name}"'))
            try:
                url = args.pg_admin_url.rsplit("/", 1)[0] + f"/{name}"
                print(f"PostgreSQL scratch database: {safe_url(url)}", flush=True)
                results.append(
                    run_backend(url, args.documents, args.targets, args.queries, args.seed)
                )
            finally:
                with admin.connect() as connection:
                    connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                admin.dispose()
        else:
            parser.error(f"unknown backend {backend!r}; use sqlite and/or postgresql")
        print(json.dumps(results[-1]), flush=True)

    columns = list(results[0])
    print("\n| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))
    for row in results:
        print(
            "| "
            + " | ".join(f"{row[c]:,}" if isinstance(row[c], int) else str(row[c]) for c in columns)
            + " |"
        )


if __name__ == "__main__":
    main()
