"""The planted-source benchmark at tiny settings: the source of a verbatim copy ranks first by
the default ranking (Adam-aware, contrasted with the corpus reference, every document trained
on), and the hand-written
targets are what they claim to be."""

import dataclasses

import pytest

from benchmarks.fidelity_common import sotu_records
from benchmarks.planted_targets import LEVELS, PLANTED
from benchmarks.provenance_planted import (
    PLANTED_RECIPE,
    PlantedConfig,
    baseline_rankings,
    gradient_rankings,
    level_table,
    train,
)

TINY = PlantedConfig(
    documents=64,
    recipe=dataclasses.replace(PLANTED_RECIPE, vocab_size=512, lr=1e-3, warmup_steps=5),
    planted=PLANTED[:2],
    levels=("verbatim", "topic"),
)


def test_planted_targets_are_well_formed(sotu_out):
    texts = {r["id"]: r["text"] for r in sotu_records(sotu_out)}
    assert len(PLANTED) >= 24
    assert len({p.source_id for p in PLANTED}) == len(PLANTED)
    for p in PLANTED:
        source = texts[p.source_id]
        assert p.verbatim in source and len(p.verbatim) < len(source)  # a partial copy
        for level in LEVELS[1:]:
            assert p.text(level) not in source
            assert len(p.text(level).split()) >= 20
    decoys = [p for p in PLANTED if p.decoy_id]
    assert len(decoys) >= 4
    for p in decoys:  # the shared phrase is in the source, its copy and the decoy (another address)
        assert p.shared_phrase in texts[p.source_id] and p.shared_phrase in p.verbatim
        assert p.shared_phrase in texts[p.decoy_id]
        assert p.decoy_id.split("/")[0] != p.source_id.split("/")[0]
        assert p.decoy_id not in {q.source_id for q in PLANTED}


@pytest.fixture(scope="module")
def run(sotu_out):
    return train(TINY, sotu_out)


def test_verbatim_sources_rank_at_the_top_by_default(run):
    ranks = gradient_rankings(run)["adam-1 corpus-ref"]
    verbatim = [k for k, (_, level) in enumerate(run.target_names) if level == "verbatim"]
    # Measured at this tiny setting (64 documents, 9 steps, all trained on): ranks 1 and 3 for
    # every contrast of the Adam-aware values (raw too), BM25 1 and 1. The full benchmark
    # (docs/fidelity.md) measures the rank-1 rate; this keeps the harness honest.
    assert int(ranks[verbatim[0]]) == 1
    assert all(int(ranks[k]) <= 3 for k in verbatim)


def test_tables_cover_every_ranking_and_level(run):
    rankings = gradient_rankings(run)
    rankings.update(baseline_rankings(run, TINY.planted))
    assert set(rankings) >= {"adam-1 raw", "adam-1 file-ref", "sgd-1 other-targets", "BM25"}
    assert len(run.doc_ids) == TINY.documents  # the whole sample is trained on
    printed = level_table(run, rankings, TINY.levels)
    assert "BM25" in printed and "verbatim" in printed
    for ranks in rankings.values():
        assert ranks.min() >= 1 and ranks.max() <= len(run.doc_ids)
