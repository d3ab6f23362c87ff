"""The three-regime planted benchmark at tiny settings: the harness, not the goals. Every regime,
ranking and level has a row or column, ranks lie within the documents trained on, and Bergson
is skipped with a reason when it is not installed (it never is in CI)."""

import dataclasses

import pytest

from benchmarks.planted_regimes import PLANTED_RECIPE, REGIMES, RegimeConfig, report, run_regimes
from benchmarks.planted_targets import PLANTED

DECOY = next(p for p in PLANTED if p.decoy_id)
TINY = RegimeConfig(
    scratch_documents=48,
    finetune_documents=48,
    pretrain_documents=96,
    pretrain_epochs=1,
    repeat_epochs=2,
    recipe=dataclasses.replace(PLANTED_RECIPE, vocab_size=1024, lr=1e-3, warmup_steps=2),
    planted=(PLANTED[0], DECOY),
    levels=("verbatim", "paraphrase", "topic"),
    bergson=False,
)
RANKINGS = {
    "RRF(specific, BM25) (default)",
    "specific value",
    "raw value",
    "specific / visits",
    "specific / grad norm",
    "TrackStar (ours)",
    "BM25",
    "MiniLM",
}


@pytest.fixture(scope="module")
def results(sotu_out):
    return run_regimes(TINY, sotu_out)


def test_every_regime_ranking_and_level_is_reported(results):
    assert [r.regime for r in results] == list(REGIMES)
    printed = report(results, TINY)
    for result in results:
        assert set(result.rankings) == RANKINGS
        n_docs = len(result.run.doc_ids)
        assert n_docs <= TINY.finetune_documents or result.regime == "scratch"
        for ranks in result.rankings.values():
            assert len(ranks) == len(TINY.planted) * len(TINY.levels)
            assert ranks.min() >= 1 and ranks.max() <= n_docs
    for name in [*RANKINGS, *TINY.levels, "verbatim, decoys", *REGIMES]:
        assert name in printed


def test_repeated_exposure_visits_each_document_every_epoch(results):
    repeated = next(r for r in results if r.regime == "repeated")
    assert repeated.run.visits.min() >= TINY.repeat_epochs
    finetune = next(r for r in results if r.regime == "finetune")
    assert finetune.run.doc_ids == repeated.run.doc_ids  # the same fine-tune sample


def test_bergson_is_skipped_with_a_reason_when_not_installed(tmp_path, monkeypatch):
    from benchmarks import bergson_peer

    monkeypatch.setattr(bergson_peer, "PEERS", tmp_path / "absent")
    outcome = bergson_peer.scores(None, None, None, (), tmp_path / "work")
    assert outcome.scores is None and "not installed" in outcome.reason
