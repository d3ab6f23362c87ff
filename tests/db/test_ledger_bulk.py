"""The bulk value writer (executemany on SQLite, binary COPY on PostgreSQL) against the slow,
obviously correct path: plain ORM inserts of DocumentValue rows."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import event, select

from benchmarks.ledger_seed import document, seed_ledger
from db.catalog import TargetRecord
from db.models import (
    RANK_INDEXED,
    DocumentValue,
    Run,
    Target,
    TargetOrigin,
    value_key,
)
from db.rankings import document_contributions, rollup, top_documents
from db.schema import upgrade
from db.session import make_engine, make_sessionmaker, session_scope
from db.values import write_document_values

# Values that a text round trip or a float32 would change, and the extremes of float64.
AWKWARD = [
    0.1 + 0.2,
    1e-300,
    -0.0,
    5e-324,
    -5e-324,
    1 / 3,
    -2 / 3,
    1.7976931348623157e308,
    -1.7976931348623157e308,
    2.2250738585072014e-308,
    123456789.12345679,
    1e16 + 2,
]


def _ledger(engine, n_documents: int, runs: list[str]) -> np.ndarray:
    """A corpus of n documents, the given runs each with targets t1 and t2; the documents' ids."""
    docs = [
        document(
            f"d{i:06d}", f"text {i}", source=["news", "books", None][i % 3], title=f"Title {i}"
        )
        for i in range(n_documents)
    ]
    targets = [
        TargetRecord("t1", "one", TargetOrigin.UPLOADED),
        TargetRecord("t2", "two", TargetOrigin.FILE),
    ]
    write = make_sessionmaker(engine, write=True)
    for run_key in runs:  # the corpus is written once: the later runs find it by its hash
        ids = seed_ledger(write, docs, targets, run_key=run_key, corpus_sha256="e" * 64)
    return ids


def _write_slowly(session, run_key: str, target_key: str, ids, raw, specific) -> None:
    """The reference: ranks by Python's sort of (value, id) pairs, one ORM object per row,
    totals with math.fsum."""
    run = session.execute(select(Run).where(Run.run_key == run_key)).scalar_one()
    target = session.execute(
        select(Target).where(Target.run_id == run.id, Target.target_key == target_key)
    ).scalar_one()
    n = len(ids)

    def ranks(values):
        order = sorted(range(n), key=lambda i: (values[i], ids[i]), reverse=True)
        return {i: position + 1 for position, i in enumerate(order)}

    rank_raw, rank_specific = ranks(list(raw)), ranks(list(specific))

    def tail(i):
        return any(
            r <= RANK_INDEXED or r > n - RANK_INDEXED for r in (rank_raw[i], rank_specific[i])
        )

    session.add_all(
        DocumentValue(
            id=value_key(target.id, ids[i]),
            target_id=target.id,
            document_id=ids[i],
            raw=raw[i],
            specific=specific[i],
            rank_raw=rank_raw[i],
            rank_specific=rank_specific[i],
            tail=tail(i),
        )
        for i in range(n)
    )
    target.raw_positive_total = math.fsum(r for r in raw if r > 0)
    target.specific_positive_total = math.fsum(s for s in specific if s > 0)
    session.flush()


def _stored(session, run_key: str, target_key: str) -> pd.DataFrame:
    rows = session.execute(
        select(
            DocumentValue.document_id,
            DocumentValue.raw,
            DocumentValue.specific,
            DocumentValue.rank_raw,
            DocumentValue.rank_specific,
            DocumentValue.tail,
        )
        .join(Target, Target.id == DocumentValue.target_id)
        .join(Run, Run.id == Target.run_id)
        .where(Run.run_key == run_key, Target.target_key == target_key)
        .order_by(DocumentValue.document_id)
    ).all()
    return pd.DataFrame(
        rows, columns=["document_id", "raw", "specific", "rank_raw", "rank_specific", "tail"]
    )


def _bits(values) -> list[int]:
    return np.asarray(values, dtype=np.float64).view(np.int64).tolist()


def test_awkward_values_round_trip_exactly(ledger):
    ids = _ledger(ledger, len(AWKWARD), ["r"])
    raw = np.array(AWKWARD)
    specific = -raw[::-1]
    with session_scope(make_sessionmaker(ledger, write=True)) as session:
        write_document_values(session, "r", "t1", ids, raw, specific)
    with session_scope(make_sessionmaker(ledger)) as session:
        stored = _stored(session, "r", "t1")
    assert stored["document_id"].tolist() == sorted(ids.tolist())
    by_id = dict(zip(ids.tolist(), zip(raw.tolist(), specific.tolist(), strict=True), strict=True))
    want = np.array([by_id[d] for d in stored["document_id"]])
    zero = want == 0.0
    # Every non-zero value comes back bit for bit. SQLite stores a zero REAL as the integer 0,
    # so -0.0 may come back as 0.0 there (on either write path); it still compares equal.
    assert _bits(stored[["raw", "specific"]].to_numpy()[~zero]) == _bits(want[~zero])
    assert (stored[["raw", "specific"]].to_numpy()[zero] == 0.0).all()


@pytest.mark.parametrize("n_documents", [1, 10_000])  # x 2 targets: 20,000 rows
def test_bulk_write_equals_orm_inserts(ledger, n_documents):
    ids = _ledger(ledger, n_documents, ["fast", "slow"])
    rng = np.random.default_rng(n_documents)
    # Unsorted ids, ties, zeros and negatives: the reads must not depend on insertion order.
    order = rng.permutation(n_documents)
    raw = np.round(rng.standard_normal(n_documents), 2) * 1e-3
    specific = raw + rng.standard_normal(n_documents) * 1e-17
    specific[::7] = 0.0
    write = make_sessionmaker(ledger, write=True)
    for key, sign in (("t1", 1.0), ("t2", -1.0)):
        with session_scope(write) as session:
            write_document_values(
                session, "fast", key, ids[order], sign * raw[order], specific[order]
            )
        with session_scope(write) as session:
            _write_slowly(session, "slow", key, ids.tolist(), (sign * raw).tolist(), specific)

    with session_scope(make_sessionmaker(ledger)) as session:
        for key in ("t1", "t2"):
            fast, slow = _stored(session, "fast", key), _stored(session, "slow", key)
            assert _bits(fast[["raw", "specific"]]) == _bits(slow[["raw", "specific"]])
            assert fast["document_id"].tolist() == slow["document_id"].tolist()
            stored = ["rank_raw", "rank_specific", "tail"]
            assert fast[stored].to_numpy().tolist() == slow[stored].to_numpy().tolist()
            # k <= RANK_INDEXED reads the partial rank index, a larger k sorts the target.
            for k in (100, 3 * RANK_INDEXED):
                for by in ("specific", "raw"):
                    for ascending in (False, True):
                        pd.testing.assert_frame_equal(
                            top_documents(session, "fast", key, k, by=by, ascending=ascending),
                            top_documents(session, "slow", key, k, by=by, ascending=ascending),
                        )
            pd.testing.assert_frame_equal(
                rollup(session, "fast", key), rollup(session, "slow", key)
            )
        pd.testing.assert_frame_equal(
            document_contributions(session, "fast", "d000000"),
            document_contributions(session, "slow", "d000000"),
        )


def test_writing_twice_replaces_and_is_idempotent(ledger):
    ids = _ledger(ledger, 500, ["r"])
    rng = np.random.default_rng(1)
    raw, specific = rng.standard_normal(500), rng.standard_normal(500)
    write, read = make_sessionmaker(ledger, write=True), make_sessionmaker(ledger)

    def snapshot():
        with session_scope(read) as session:
            return (
                _stored(session, "r", "t1"),
                top_documents(session, "r", "t1", 50),
                top_documents(session, "r", "t1", 50, by="raw", ascending=True),
                document_contributions(session, "r", "d000123"),
            )

    with session_scope(write) as session:
        write_document_values(session, "r", "t1", ids[::-1], raw[::-1], specific[::-1])
    first = snapshot()
    with session_scope(write) as session:
        write_document_values(session, "r", "t1", ids, raw, specific)
        write_document_values(session, "r", "t1", ids, raw, specific)
    for a, b in zip(first, snapshot(), strict=True):
        pd.testing.assert_frame_equal(a, b)

    # A replacement with fewer documents leaves exactly those.
    with session_scope(write) as session:
        write_document_values(session, "r", "t1", ids[:10], raw[:10], specific[:10])
    stored, top, *_ = snapshot()
    assert stored["document_id"].tolist() == sorted(ids[:10].tolist())
    assert len(top) == 10


@pytest.mark.parametrize("failure", ["nan", "duplicate id", "unknown document"])
def test_a_failed_write_leaves_the_previous_values(ledger, failure):
    ids = _ledger(ledger, 300, ["r"])
    rng = np.random.default_rng(2)
    raw, specific = rng.standard_normal(300), rng.standard_normal(300)
    write, read = make_sessionmaker(ledger, write=True), make_sessionmaker(ledger)
    with session_scope(write) as session:
        write_document_values(session, "r", "t1", ids, raw, specific)
    with session_scope(read) as session:
        before = (_stored(session, "r", "t1"), top_documents(session, "r", "t1", 50))

    bad_ids, bad_raw = ids.copy(), raw * 2
    if failure == "nan":
        bad_raw[150] = math.nan
        expected: type[Exception] = ValueError
    elif failure == "duplicate id":
        bad_ids[150] = bad_ids[149]
        expected = ValueError
    else:
        bad_ids[150] = int(ids.max()) + 1000
        expected = LookupError
    with pytest.raises(expected), session_scope(write) as session:
        write_document_values(session, "r", "t1", bad_ids, bad_raw, specific)

    with session_scope(read) as session:
        after = (_stored(session, "r", "t1"), top_documents(session, "r", "t1", 50))
    for a, b in zip(before, after, strict=True):
        pd.testing.assert_frame_equal(a, b)


def test_top_k_reads_the_partial_rank_index_on_sqlite(tmp_path):
    """The top-50 query must not sort a target's rows: SQLite's plan names the rank index."""
    engine = make_engine(f"sqlite:///{tmp_path / 'plan.sqlite3'}")
    upgrade(engine)
    ids = _ledger(engine, 3000, ["r"])
    rng = np.random.default_rng(3)
    with session_scope(make_sessionmaker(engine, write=True)) as session:
        write_document_values(session, "r", "t1", ids, *rng.standard_normal((2, 3000)))
    statements = []

    def remember(conn, cursor, statement, parameters, context, executemany):
        if "ORDER BY document_values.rank_" in statement:
            statements.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", remember)
    try:
        with session_scope(make_sessionmaker(engine)) as session:
            for by in ("specific", "raw"):
                assert len(top_documents(session, "r", "t1", 50, by=by)) == 50
                assert len(top_documents(session, "r", "t1", 50, by=by, ascending=True)) == 50
    finally:
        event.remove(engine, "before_cursor_execute", remember)
    assert len(statements) == 4
    with engine.connect() as connection:
        for statement, parameters in statements:
            plan = connection.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)
            details = " ".join(row[-1] for row in plan)
            assert "ix_document_values_tail_" in details, details
            assert "TEMP B-TREE" not in details, details
