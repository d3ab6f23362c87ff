"""Repository functions on SQLite and PostgreSQL: plain DataFrames, exact totals, idempotent
replace-writes, deterministic ranking."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from attribution_engine.shapley import specific_values
from benchmarks.ledger_seed import document, make_recipe, seed_ledger
from db.catalog import (
    DocumentRecord,
    TargetRecord,
    add_targets,
    commit_step,
    create_run,
    document_detail,
    document_hashes,
    document_ids,
    documents,
    find_run,
    get_run,
    run_corpus,
    upsert_corpus,
)
from db.models import RunKind, RunStatus, TargetOrigin
from db.rankings import (
    document_contributions,
    efficiency_series,
    negative_documents,
    rollup,
    top_documents,
    window_sums,
)
from db.session import make_sessionmaker, session_scope
from db.values import (
    EfficiencyRecord,
    pack_visits,
    read_visits,
    unpack_visits,
    write_document_values,
    write_efficiency,
    write_visits,
)
from provenance.windows import window_values

SOURCES = ["news", "news", "news", "books", None, "books"]
AUTHORS = ["ann", "bob", "ann", "cy", "cy", None]
# Target "t1": ranks by specific, with a tie (d3 == d4) and values whose naive sum loses bits.
RAW_T1 = [1e16, 1.0, -1e16, 1 / 3, 0.25, -0.5]
SPEC_T1 = [0.5, 1e-17, 0.125, 0.125, -0.75, 1 / 3]
RAW_T2 = [0.0, -2.0, 0.1, 0.2, 0.3, -1e-300]
SPEC_T2 = [-0.1, 0.2, 0.3, -0.4, 0.5, 0.6]


def _docs() -> list[DocumentRecord]:
    return [
        document(
            f"d{i}",
            f"text {i}",
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
    targets = [
        TargetRecord("t1", "target one", TargetOrigin.UPLOADED),
        TargetRecord("t2", "target two", TargetOrigin.GENERATED, prompt="p"),
    ]
    order = seed_ledger(
        write, _docs(), targets, corpus_sha256="f" * 64, corpus_path="corpus.jsonl", n_chunks=6
    )
    with session_scope(write) as session:
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


def test_runs_are_read_back_as_stored_and_committed_by_step(filled):
    write, read, _ = filled
    with session_scope(write) as session:
        child = create_run(
            session,
            "r2",
            RunKind.ATTRIBUTE,
            {"opaque": [1, "two"]},
            corpus_id=get_run(session, "r1").corpus_id,
            parent_run_key="r1",
            initial_weights_sha256="a" * 64,
            tokenizer_sha256="b" * 64,
        )
        assert (child.parent_run_key, child.status) == ("r1", RunStatus.CREATED)
    with session_scope(read) as session:
        assert find_run(session, "nope") is None
        run = find_run(session, "r2")
        assert run == get_run(session, "r2")
        assert run.recipe == {"opaque": [1, "two"]}  # stored JSON, unread by db
        assert (run.initial_weights_sha256, run.tokenizer_sha256) == ("a" * 64, "b" * 64)
        assert run.final_weights_sha256 is None
    with session_scope(write) as session:
        commit_step(session, "r2", 5)
    with session_scope(read) as session:
        run = get_run(session, "r2")
        assert (run.committed_step, run.status, run.final_weights_sha256) == (
            5,
            RunStatus.RUNNING,
            None,
        )
    with session_scope(write) as session:
        commit_step(session, "r2", 9, final_weights_sha256="c" * 64)
    with session_scope(read) as session:
        run = get_run(session, "r2")
        assert (run.committed_step, run.status, run.final_weights_sha256) == (
            9,
            RunStatus.DONE,
            "c" * 64,
        )
    with pytest.raises(LookupError, match="no run 'nope'"), session_scope(write) as session:
        commit_step(session, "nope", 1)


def test_corpus_reads_for_the_manifest_and_the_report(filled):
    _, read, _ = filled
    with session_scope(read) as session:
        corpus = run_corpus(session, "r1")
        assert (corpus.sha256, corpus.path, corpus.n_documents) == ("f" * 64, "corpus.jsonl", 6)
        hashes = document_hashes(session, "r1")
        assert hashes == sorted((d.doc_key, d.sha256) for d in _docs())
        found = documents(session, "r1", ["d4", "d1", "missing"])
        assert sorted(found) == ["d1", "d4"]
        assert found["d1"] == document_detail(session, "r1", "d1")
        assert (found["d4"].author, found["d4"].sha256) == ("cy", _docs()[4].sha256)
        with pytest.raises(LookupError, match="no run 'nope'"):
            document_hashes(session, "nope")


def test_window_sums_are_exact_per_document_and_target(filled):
    write, read, order = filled
    with session_scope(write) as session:
        for step, values in ((0, [1e16, 1.0]), (1, [-1e16, 2.0]), (2, [5.0, 7.0])):
            write_visits(session, "r1", "t1", step, np.array(order[:2]), np.array(values))
        write_visits(session, "r1", "t2", 1, np.array(order[1:2]), np.array([0.5]))
    with session_scope(read) as session:
        sums = window_sums(session, "r1", ["t1", "t2"], 0, 1)
        assert list(sums.columns) == ["doc_key", "target_key", "value"]
        assert sums.values.tolist() == [["d0", "t1", 0.0], ["d1", "t1", 3.0], ["d1", "t2", 0.5]]
        assert window_sums(session, "r1", ["t2"], 2, 2).empty  # not visited in the window
        with pytest.raises(ValueError, match="empty step window"):
            window_sums(session, "r1", ["t1"], 2, 1)
        with pytest.raises(LookupError, match="no target 'tx'"):
            window_sums(session, "r1", ["tx"], 0, 1)


def test_window_values_need_something_to_contrast_with(filled):
    write, read, _ = filled
    with session_scope(write) as session:
        corpus_id = get_run(session, "r1").corpus_id
        create_run(
            session, "solo", RunKind.TRAIN, make_recipe("solo").to_json(), corpus_id=corpus_id
        )
        add_targets(session, "solo", [TargetRecord("only", "text", TargetOrigin.FILE)])
    nothing = "no reference or other target"
    with session_scope(read) as session, pytest.raises(LookupError, match=nothing):
        window_values(session, "solo", "only", 0, 1)


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


def test_rollup_sums_exactly_in_python(filled):
    _, read, _ = filled
    with session_scope(read) as session:
        by_source = rollup(session, "r1", "t1", "source")
        by_author = rollup(session, "r1", "t1", field="author")
        both = rollup(session, "r1", None, "source")
    columns = ["source", "targets", "documents", "raw", "specific", "share"]
    assert list(by_source.columns) == columns and (by_source["targets"] == 1).all()
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
    # Both targets: a group counts its documents once and sums every (document, target) value.
    news = both.set_index("source").loc["news"]
    assert (news["targets"], news["documents"]) == (2, 3)
    assert news["raw"] == math.fsum(RAW_T1[:3] + RAW_T2[:3])
    assert news["specific"] == math.fsum(SPEC_T1[:3] + SPEC_T2[:3])
    with pytest.raises(ValueError, match="field must be"), session_scope(read) as session:
        rollup(session, "r1", "t1", "title")  # type: ignore[arg-type]
    with pytest.raises(LookupError, match="no target 'tx'"), session_scope(read) as session:
        rollup(session, "r1", "tx", "source")


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
        write_efficiency(session, "r1", [EfficiencyRecord(2, "t1", 9.0, 9.5, 1.0, 0.25)])
    with session_scope(read) as session:
        series = efficiency_series(session, "r1")
    assert series[["step", "target_key"]].values.tolist() == [[1, "t1"], [1, "t2"], [2, "t1"]]
    assert series["values_sum"].tolist() == [0.1, 0.1, 9.0]
    assert series["decay_drop"].isna().tolist() == [True, True, False]  # None: not measured
    assert series["decay_drop"].iloc[2] == 0.25
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
        # The engine's contrast rule, applied to the exact sums of the target and its contrast
        # columns: within rounding of an exact mean of the contrast columns.
        sums = np.array([[raw[k]] + [r.get(k, 0.0) for r in references] for k in sorted(raw)])
        rule = specific_values(sums, reference=range(1, sums.shape[1]) if with_reference else None)
        assert frame["specific"].tolist() == rule[:, 0].tolist()
        assert frame["specific"].tolist() == pytest.approx(
            [
                raw[k] - math.fsum(r.get(k, 0.0) for r in references) / len(references)
                for k in sorted(raw)
            ],
            rel=1e-12,
        )
    with pytest.raises(ValueError, match="empty step window"), session_scope(read) as session:
        window_values(session, "r1", "t1", 4, 3)
