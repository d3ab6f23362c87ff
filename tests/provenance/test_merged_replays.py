"""Merged replays (issue 20 item 3): queued attribute jobs of one run share one replay, through
the real worker path on a tiny model, and every target gets exactly the values that separate
replays give it (to 1e-12). Also the worker's per-step progress with its measured speed."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from synthetic import write_corpus

from attribution_engine.targets import TargetText
from attribution_engine.train_config import TrainConfig
from db import jobs
from db.listings import list_targets
from db.models import JobStatus
from db.schema import upgrade
from db.session import make_engine, make_sessionmaker, session_scope
from provenance import runs
from provenance.jobs import AttributeJob, PayloadError, enqueue, merging
from provenance.jobs.handlers import StepProgress, handlers
from provenance.worker import run_worker


def _values(data: Path, run_id: str) -> dict[str, np.ndarray]:
    """Every target's values per visit (nats), by target id."""
    path = data / "runs" / run_id
    ids = [t["id"] for t in json.loads((path / "recipe.json").read_text())["targets"]]
    values = np.load(path / "results.npz")["visit_values"]  # [visits, V]
    return {target: values[:, v] for v, target in enumerate(ids)}


def _replays(data: Path, parent: str) -> list[str]:
    return sorted(p.name for p in (data / "runs").glob(f"{parent}-attr-*"))


@pytest.fixture
def trained(tmp_path: Path):
    data = tmp_path / "data"
    (data / "corpora").mkdir(parents=True)
    docs = write_corpus(data / "corpora" / "c.jsonl", n_docs=16)
    engine = make_engine(f"sqlite:///{tmp_path / 'ledger.sqlite3'}")
    upgrade(engine)
    write = make_sessionmaker(engine, write=True)
    config = TrainConfig(steps=6, batch_rows=4, checkpoint_every=3)
    parent = runs.train(data / "corpora" / "c.jsonl", data, config, progress=False, ledger=write)
    targets = [
        TargetText("a", docs[3]["text"]),
        TargetText("b", " engine treaty harbour", "river"),
        TargetText("c", docs[9]["text"][:80]),
    ]
    yield data, engine, write, parent, targets
    engine.dispose()


def test_merged_replay_gives_every_target_the_values_of_separate_replays(trained) -> None:
    data, engine, write, parent, targets = trained
    work = handlers(data, write)
    # Separate: one job, one replay, then the next.
    enqueue(write, AttributeJob(parent, tuple(targets[:2])))
    assert run_worker(write, work, "w1", once=True) == 1
    enqueue(write, AttributeJob(parent, (targets[2],)))
    assert run_worker(write, work, "w1", once=True) == 1
    first, second = _replays(data, parent)
    separate = _values(data, first) | _values(data, second)
    # Merged: both queued before a worker runs: one replay carries all three targets.
    one = enqueue(write, AttributeJob(parent, tuple(targets[:2])))
    other = enqueue(write, AttributeJob(parent, (targets[2], targets[0])))  # "a" again
    assert run_worker(write, work, "w1", once=True) == 1
    (merged_run,) = set(_replays(data, parent)) - {first, second}
    merged = _values(data, merged_run)
    assert {"a", "b", "c"} <= set(merged)
    for target in ("a", "b", "c"):
        np.testing.assert_allclose(merged[target], separate[target], rtol=0, atol=1e-12)
    with session_scope(make_sessionmaker(engine)) as session:
        infos = [jobs.job_status(session, i) for i in (one, other)]
    assert [j.status for j in infos] == [JobStatus.DONE, JobStatus.DONE]
    assert infos[1].merged_into == one
    assert infos[0].steps_per_second is not None and infos[0].steps_per_second > 0
    assert run_worker(write, work, "w1", once=True) == 0  # nothing left: no second replay


def test_a_clashing_target_id_waits_for_the_next_replay(trained) -> None:
    data, engine, write, parent, targets = trained
    work = handlers(data, write)
    one = enqueue(write, AttributeJob(parent, (targets[0],)))
    clash = enqueue(write, AttributeJob(parent, (TargetText("a", "another text entirely"),)))
    assert run_worker(write, work, "w1", once=True) == 1
    with session_scope(make_sessionmaker(engine)) as session:
        assert jobs.job_status(session, one).status is JobStatus.DONE
        assert jobs.job_status(session, clash).status is JobStatus.QUEUED
    assert run_worker(write, work, "w1", once=True) == 1
    assert len(_replays(data, parent)) == 2


def test_progress_is_throttled_and_carries_the_measured_speed() -> None:
    calls = []
    now = [100.0]
    progress = StepProgress(lambda *a, **k: calls.append((a, k)), every=1.0, clock=lambda: now[0])
    for step in range(1, 11):  # 10 steps, 0.25 s each
        now[0] += 0.25
        progress(step, 10)
    # Step 1 (no speed yet), then once a second, and the last step always.
    assert [round(a[0], 1) for a, _ in calls] == [0.1, 0.5, 0.9, 1.0]
    _, last = calls[-1]
    assert last["steps_per_second"] == pytest.approx(9 / 2.25)
    assert last["eta_seconds"] == 0.0
    _, middle = calls[1]
    assert middle["eta_seconds"] == pytest.approx(5 / 4)


def test_targets_a_model_wrote_are_recorded_generated_through_merged_jobs(trained) -> None:
    """The Targets page's sampled outputs travel as the job's `generated` ids; in a merged
    replay each target keeps the origin its own job gave it."""
    data, engine, write, parent, targets = trained
    enqueue(write, AttributeJob(parent, (targets[0], targets[1]), generated=("b",)))
    enqueue(write, AttributeJob(parent, (targets[2],)))
    assert run_worker(write, handlers(data, write), "w1", once=True) == 1
    (replay,) = _replays(data, parent)
    with session_scope(make_sessionmaker(engine)) as session:
        listed = list_targets(session, replay)
    origins = dict(zip(listed["target_key"], listed["origin"], strict=True))
    assert origins == {"a": "uploaded", "b": "generated", "c": "uploaded"}


def test_a_job_naming_a_generated_id_it_does_not_carry_is_refused() -> None:
    with pytest.raises(PayloadError, match="not among the job's targets"):
        AttributeJob("run-1", (TargetText("a", "words"),), generated=("b",))
    job = AttributeJob("run-1", (TargetText("a", "words"),), generated=("a",))
    assert AttributeJob.from_json(job.to_json()) == job
    older = {k: v for k, v in job.to_json().items() if k != "generated"}  # queued before
    assert AttributeJob.from_json(older).generated == ()


def test_a_target_named_by_two_jobs_keeps_the_origin_of_the_first() -> None:
    a, b, c = (TargetText(key, f"words of {key}") for key in "abc")
    first = AttributeJob("run-1", (a, b), generated=("b",))
    second = AttributeJob("run-1", (b, c), generated=("c",))  # b uploaded here: not kept
    third = AttributeJob("run-1", (a,), generated=("a",))  # a uploaded by the first job
    assert merging.merged_targets([first, second, third]) == (a, b, c)
    assert merging.merged_generated([first, second, third]) == ("b", "c")
    assert merging.merged_generated([second, first]) == ("c",)  # b: the second job's copy first
