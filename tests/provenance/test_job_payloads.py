"""Typed job payloads (provenance/jobs/payloads.py): each type survives its JSON round trip,
and every bad field is refused with PayloadError naming it and the fix."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from attribution_engine.targets import TargetText
from attribution_engine.train_config import TINY_MODEL, TrainConfig
from provenance.jobs import (
    MAX_TARGETS,
    AttributeJob,
    JobKind,
    PayloadError,
    TrainJob,
    read_payload,
)

TARGETS = (
    TargetText(id="t1", text="Four score and seven years ago", prompt="Lincoln:"),
    TargetText(id="t2", text="<script>x</script>\nline two"),
)


@pytest.mark.parametrize(
    "job",
    [
        TrainJob(corpus_path=Path("/srv/corpus.jsonl")),
        TrainJob(
            corpus_path=Path("/srv/c"),
            config=TrainConfig(
                steps=7, order=2, lr=1e-3, max_grad_norm=None, accounting="sgd_proxy"
            ),
            model="/models/gpt2",
            targets_path=Path("/srv/targets.jsonl"),
            lenient=True,
        ),
        AttributeJob(run_key="run-1", targets=TARGETS),
    ],
    ids=["train-defaults", "train-everything", "attribute"],
)
def test_round_trip_through_json(job) -> None:
    data = json.loads(json.dumps(job.to_json()))  # what the ledger stores
    assert type(job).from_json(data) == job
    assert read_payload(job.kind.value, data) == job


def test_defaults_come_from_train_config() -> None:
    job = TrainJob.from_json({"corpus_path": "/c.jsonl"})
    assert (job.config, job.model, job.targets_path, job.lenient) == (
        TrainConfig(),
        TINY_MODEL,
        None,
        False,
    )


def test_rows_queued_before_typed_payloads_still_read() -> None:
    job = TrainJob.from_json({"corpus": "/c.jsonl", "targets": None, "config": {"steps": 2}})
    assert job.corpus_path == Path("/c.jsonl") and job.config.steps == 2


@pytest.mark.parametrize(
    ("kind", "data", "message"),
    [
        ("report", {}, r"unknown job kind 'report'; the worker runs \['train', 'attribute'\]"),
        ("train", ["/c.jsonl"], "payload must be a JSON object, not list"),
        ("train", {"corpus_path": "/c", "modle": "x"}, r"unknown field\(s\) \['modle'\]"),
        ("train", {"corpus_path": ""}, "'corpus_path' must be a path on the worker's machine"),
        ("train", {"corpus_path": "/c", "config": []}, "'config' must be an object"),
        ("train", {"corpus_path": "/c", "config": {"order": 3}}, "'config': order"),
        ("train", {"corpus_path": "/c", "config": {"lr": "fast"}}, "'config.lr' must be a float"),
        (
            "train",
            {"corpus_path": "/c", "config": {"steps": True}},
            "'config.steps' must be an int",
        ),
        (
            "train",
            {"corpus_path": "/c", "config": {"optimizer": "adam"}},
            r"'config.optimizer' must be one of \['adamw', 'sgd'\]",
        ),
        ("train", {"corpus_path": "/c", "lenient": "yes"}, "'lenient' must be true or false"),
        ("train", {"corpus_path": "/c", "model": 5}, "'model' must be a string"),
        ("attribute", {"targets": []}, "'run_key' must be the run id"),
        ("attribute", {"run_key": "r", "targets": []}, "'targets' is empty"),
        ("attribute", {"run_key": "r", "targets": "/srv/t.jsonl"}, "'targets' is a file path"),
        ("attribute", {"run_key": "r", "targets": [3]}, r"'targets\[0\]' must be a JSON object"),
        (
            "attribute",
            {"run_key": "r", "targets": [{"id": "a", "text": "x", "promt": "p"}]},
            r"'targets\[0\]': unknown key\(s\) \['promt'\]",
        ),
        (
            "attribute",
            {"run_key": "r", "targets": [{"id": "a", "text": "x"}, {"id": "a", "text": "y"}]},
            "repeat the id 'a'",
        ),
    ],
)
def test_bad_payloads_name_the_field(kind: str, data: object, message: str) -> None:
    with pytest.raises(PayloadError, match=message):
        read_payload(kind, data)


def test_the_target_count_is_capped() -> None:
    many = tuple(TargetText(id=f"t{i}", text="x") for i in range(MAX_TARGETS + 1))
    with pytest.raises(PayloadError, match=f"over the {MAX_TARGETS} one job may carry"):
        AttributeJob(run_key="r", targets=many)
    records = [{"id": t.id, "text": t.text} for t in many]
    with pytest.raises(PayloadError, match="split them over several jobs"):
        AttributeJob.from_json({"run_key": "r", "targets": records})
    assert len(AttributeJob(run_key="r", targets=many[:MAX_TARGETS]).targets) == MAX_TARGETS


def test_construction_is_checked_too() -> None:
    with pytest.raises(PayloadError, match=r"'corpus_path' must be a pathlib\.Path"):
        TrainJob(corpus_path="/c.jsonl")  # type: ignore[arg-type]
    with pytest.raises(PayloadError, match="'targets' must be a tuple of TargetText"):
        AttributeJob(run_key="r", targets=[TARGETS[0]])  # type: ignore[arg-type]
    assert TrainJob.kind is JobKind.TRAIN and AttributeJob.kind is JobKind.ATTRIBUTE
