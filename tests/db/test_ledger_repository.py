"""Repository functions on SQLite and PostgreSQL: plain DataFrames, exact totals, idempotent
replace-writes, deterministic ranking."""

from __future__ import annotations

import hashlib
import math

import numpy as np
import pandas as pd
import pytest

from db.models import RunKind, TargetOrigin
from db.repository import (
    DocumentRecord,
    EfficiencyRecord,
    TargetRecord,
    add_targets,
    create_run,
    document_contributions,
    document_ids,
    efficiency_series,
    get_run,
    negative_documents,
    pack_visits,
    read_visits,
    top_documents,
    unpack_visits,
    upsert_corpus,
    values_by,
    window_values,
    write_document_values,
    write_efficiency,
    write_visits,
)
from db.session import make_sessionmaker, session_scope

SOURCES = ["news", "news", "news", "books", None, "books"]
AUTHORS = ["ann", "bob", "ann", "cy", "cy", None]
# Target "t1": ranks by specific, with a tie (d3 == d4) and values whose naive sum loses bits.
RAW_T1 = [1e16, 1.0, -1e16, 1 / 3, 0.25, -0.5]
SPEC_T1 = [0.5, 1e-17, 0.125, 0.125, -0.75, 1 / 3]
RAW_T2 = [0.0, -2.0, 0.1, 0.2, 0.3, -1e-300]
SPEC_T2 = [-0.1, 0.2, 0.3, -0.4, 0.5, 0.6]


def _docs() -> list[DocumentRecord]:
    return [
        DocumentRecord(
            doc_key=f"d{i}",
            text=f"text {i}",
            sha256=hashlib.sha256(f"text {i}".encode()).hexdigest(),
            source=SOURCES[i],
            author=AUTHORS[i],
            license="cc-by" if i % 2 else None,
            title=f"Title {i}",
            metadata={"i": i},
        )
        for i in range(6)
    ]


@pytest.fixture
def filled(ledger):
    """A ledger holding one corpus of 6 documents, run 'r1' with targets t1 and t2, values."""
    write = make_sessionmaker(ledger, write=True)
    with session_scope(write) as session:
        corpus = upsert_corpus(session, "f" * 64, "corpus.jsonl", _docs(), n_chunks=6)
        create_run(session, "r1", RunKind.TRAIN, {"lr": 3e-4}, corpus_id=corpus.id)
        add_targets(
            session,
            "r1",
            [
                TargetRecord("t1", "target one", TargetOrigin.UPLOADED),
                TargetRecord("t2", "target two", TargetOrigin.GENERATED, prompt="p"),
            ],
        )
        ids = document_ids(session, corpus.id)
        order = [ids[f"d{i}"] for i in range(6)]
        write_document_values(session, "r1", "t1", order, RAW_T1, SPEC_T1)
        write_document_values(session, "r1", "t2", order, RAW_T2, SPEC_T2)
    return write, make_sessionmaker(ledger), order


def test_upsert_corpus_is_idempotent(filled):
    write, read, order = filled
    with session_scope(write) as session:
        again = upsert_corpus(session, "f" * 64, "elsewhere.jsonl", _docs())
    assert not again.created_now and again.n_documents == 6 and again.path == "corpus.jsonl"
    with session_scope(read) as session:
        assert list(document_ids(session, again.id).values()) != [] and sorted(
            document_ids(session, again.id).values()
        ) == sorted(order)


def test_runs_are_unique_and_lookups_explain(filled):
    write, read, _ = filled
    with pytest.raises(ValueError, match="already exists"), session_scope(write) as session:
        create_run(session, "r1", RunKind.TRAIN, {})
    with session_scope(read) as session:
        run = get_run(session, "r1")
        assert (run.kind, run.committed_step) == (RunKind.TRAIN, 0)
        with pytest.raises(LookupError, match=r"no run 'nope'.*'r1'"):
            top_documents(session, "nope", "t1", 3)
        with pytest.raises(LookupError, match=r"no target 'tx'.*\['t1', 't2'\]"):
            top_documents(session, "r1", "tx", 3)


def test_top_documents_ranks_shares_and_ties(filled):
    _, read, _ = filled
    with session_scope(read) as session:
        top = top_documents(session, "r1", "t1", 4)
        bottom = top_documents(session, "r1", "t1", 2, ascending=True)
        by_raw = top_documents(session, "r1", "t1", 2, by="raw")
    assert list(top.columns) == [
        "rank", "doc_key", "value", "raw_value", "specific_value", "share", "source", "title",
    ]  # fmt: skip
    assert top["rank"].tolist() == [1, 2, 3, 4]
    # d3 and d2 tie at 0.125: the higher document id comes first, every time.
    assert top["doc_key"].tolist() == ["d0", "d5", "d3", "d2"]
    assert top["value"].tolist() == [0.5, 1 / 3, 0.125, 0.125]  # exact float64 round trip
    assert top["raw_value"].tolist() == [1e16, -0.5, 1 / 3, -1e16]
    positive = math.fsum(v for v in SPEC_T1 if v > 0)
    assert top["share"].tolist() == [v / positive for v in top["value"]]
    assert top["source"].tolist() == ["news", "books", "books", "news"]
    assert bottom["doc_key"].tolist() == ["d4", "d1"] and bottom["share"].iloc[0] < 0
    assert by_raw["doc_key"].tolist() == ["d0", "d1"]
    assert by_raw["share"].tolist() == [
        v / math.fsum(x for x in RAW_T1 if x > 0) for v in by_raw["value"]
    ]


def test_writing_values_twice_or_replacing_them_is_exact(filled):
    write, read, order = filled
    with session_scope(read) as session:
        before = top_documents(session, "r1", "t1", 10)
    with session_scope(write) as session:
        write_document_values(session, "r1", "t1", order, RAW_T1, SPEC_T1)
    with session_scope(read) as session:
        pd.testing.assert_frame_equal(top_documents(session, "r1", "t1", 10), before)
    with session_scope(write) as session:
        write_document_values(session, "r1", "t1", order[:2], [1.0, 2.0], [3.0, -4.0])
    with session_scope(read) as session:
        after = top_documents(session, "r1", "t1", 10)
    assert after["doc_key"].tolist() == ["d0", "d1"]
    assert after["share"].tolist() == [1.0, -4.0 / 3.0]


def test_bad_values_are_refused(filled):
    write, _, order = filled
    with pytest.raises(ValueError, match="NaN"), session_scope(write) as session:
        write_document_values(session, "r1", "t1", order[:1], [math.nan], [0.0])
    with pytest.raises(ValueError, match="equally long"), session_scope(write) as session:
        write_document_values(session, "r1", "t1", order, [0.0], [0.0])


def test_values_by_sums_exactly_in_python(filled):
    _, read, _ = filled
    with session_scope(read) as session:
        by_source = values_by(session, "r1", "t1", "source")
        by_author = values_by(session, "r1", "t1", field="author")
    assert list(by_source.columns) == ["source", "documents", "raw", "specific", "share"]
    rows = {r.source: r for r in by_source.itertuples()}
    # 1e16 + 1.0 - 1e16: fsum gives 1.0; a float accumulator in row order gives 0.0.
    assert rows["news"].raw == 1.0 and rows["news"].documents == 3
    assert rows["news"].specific == math.fsum([0.5, 1e-17, 0.125])
    assert rows["books"].raw == math.fsum([1 / 3, -0.5])
    assert rows["(unknown)"].specific == -0.75
    assert by_source["source"].tolist() == ["news", "books", "(unknown)"]  # specific, descending
    assert math.isclose(
        by_source["share"].iloc[0],
        rows["news"].specific / math.fsum([0.5, 1e-17, 0.125, 0.125, 1 / 3]),
    )
    assert set(by_author["author"]) == {"ann", "bob", "cy", "(unknown)"}
    with pytest.raises(ValueError, match="field must be"), session_scope(read) as session:
        values_by(session, "r1", "t1", "title")  # type: ignore[arg-type]


def test_document_contributions_and_negative_documents(filled):
    _, read, _ = filled
    with session_scope(read) as session:
        contributions = document_contributions(session, "r1", "d4")
        negatives = negative_documents(session, "r1")
        negatives_raw = negative_documents(session, "r1", by="raw")
        nothing = document_contributions(session, "r1", "missing")
    assert contributions.values.tolist() == [
        ["t1", "uploaded", 0.25, -0.75, 6],
        ["t2", "generated", 0.3, 0.5, 2],
    ]
    assert negatives[["doc_key", "target_key"]].values.tolist() == [
        ["d4", "t1"], ["d3", "t2"], ["d0", "t2"],
    ]  # fmt: skip
    assert (negatives["specific"] < 0).all() and negatives["title"].iloc[0] == "Title 4"
    assert negatives_raw["doc_key"].tolist()[:2] == ["d2", "d1"]
    assert negatives_raw["raw"].tolist()[-1] == -1e-300
    assert nothing.empty and list(nothing.columns) == [
        "target_key", "origin", "raw", "specific", "rank_specific",
    ]  # fmt: skip


def test_efficiency_series_round_trip_and_replace(filled):
    write, read, _ = filled
    records = [
        EfficiencyRecord(step, key, 0.1 * step, 0.11 * step, 5.0 - step)
        for step in (2, 1)
        for key in ("t2", "t1")
    ]
    with session_scope(write) as session:
        write_efficiency(session, "r1", records)
        write_efficiency(session, "r1", [EfficiencyRecord(2, "t1", 9.0, 9.5, 1.0)])
    with session_scope(read) as session:
        series = efficiency_series(session, "r1")
    assert series[["step", "target_key"]].values.tolist() == [[1, "t1"], [1, "t2"], [2, "t1"]]
    assert series["values_sum"].tolist() == [0.1, 0.1, 9.0]
    with pytest.raises(LookupError, match="no targets"), session_scope(write) as session:
        write_efficiency(session, "r1", [EfficiencyRecord(1, "tx", 0, 0, 0)])


def test_visits_are_packed_little_endian_and_round_trip(filled):
    write, read, order = filled
    payload = pack_visits(np.array([7]), np.array([1.0]))
    # 1.0 as little-endian float64, then 7 as little-endian int64.
    assert payload == bytes.fromhex("000000000000f03f0700000000000000")
    values = np.array([0.5, -1 / 3, 1e-300])
    ids = np.array(order[:3])
    with session_scope(write) as session:
        write_visits(session, "r1", "t1", 3, ids, values)
        write_visits(session, "r1", "t1", 3, ids, values)  # replace, not duplicate
        write_visits(session, "r1", "t1", 1, ids[:1], values[:1])
    with session_scope(read) as session:
        visits = read_visits(session, "r1", "t1")
    assert [v.step for v in visits] == [1, 3]
    np.testing.assert_array_equal(visits[1].values, values)
    np.testing.assert_array_equal(visits[1].document_ids, ids)
    with pytest.raises(ValueError, match="expected 32"):
        unpack_visits(payload, 2)


@pytest.mark.parametrize("with_reference", [True, False])
def test_window_values_sum_only_the_chosen_steps(filled, with_reference):
    """'Last epoch only': per-visit values of steps in the window, against a loop with fsum."""
    write, read, order = filled
    rng = np.random.default_rng(5)
    columns = ["t1", "t2"] + (["reference:a", "reference:b"] if with_reference else [])
    visits = {}  # (column, step) -> (ids, values)
    with session_scope(write) as session:
        if with_reference:
            add_targets(
                session,
                "r1",
                [TargetRecord(c, "held out", TargetOrigin.REFERENCE) for c in columns[2:]],
            )
        for step in range(6):
            ids = rng.choice(order, size=4)  # repeats: a document visited twice in a step
            for column in columns:
                values = rng.standard_normal(4) * 10.0 ** rng.integers(-12, 12, 4)
                visits[column, step] = (ids, values)
                write_visits(session, "r1", column, step, ids, values)
    keys = {d: f"d{i}" for i, d in enumerate(order)}

    def windowed(column, first, last):
        parts = {}
        for step in range(first, last + 1):
            for d, v in zip(*visits[column, step], strict=True):
                parts.setdefault(keys[int(d)], []).append(float(v))
        return {k: math.fsum(v) for k, v in parts.items()}

    for first, last in ((0, 5), (3, 5), (2, 2)):
        with session_scope(read) as session:
            frame = window_values(session, "r1", "t1", first, last)
        raw = windowed("t1", first, last)
        references = [windowed(c, first, last) for c in (columns[2:] or ["t2"])]
        assert frame["doc_key"].tolist() == sorted(raw)
        assert frame["raw"].tolist() == [raw[k] for k in sorted(raw)]
        assert frame["specific"].tolist() == [
            raw[k] - math.fsum(r.get(k, 0.0) for r in references) / len(references)
            for k in sorted(raw)
        ]
    with pytest.raises(ValueError, match="empty step window"), session_scope(read) as session:
        window_values(session, "r1", "t1", 4, 3)
