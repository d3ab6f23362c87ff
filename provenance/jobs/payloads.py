"""The typed payload of each kind of job: what the UI queues and `provenance worker` runs.

A job row holds its kind (a JobKind value) and its payload as JSON; db/jobs.py stays generic
because the ledger cannot import this layer. Each payload type checks itself when built, writes
itself with `to_json()` and reads a row back with `from_json()`, which refuses a bad payload with
PayloadError naming the field, what is wrong and how to fix it. `enqueue` (queue.py) checks a
payload before its row is written and the worker (provenance/worker.py) checks the row again
before running it, so a row written by another client or an older version fails its job with
that message instead of a KeyError deep in a run.

Paths in a payload name entries of the worker's corpus, model and upload folders (relative
names, or absolute paths inside them; provenance/jobs/roots.py): the worker resolves them
against its own folders before opening anything and refuses every other path. A run id in a
payload must be a run id (RUN_KEY), never a path.
An attribution job carries its targets themselves, so it needs no file shared with the UI.
"""

from __future__ import annotations

import dataclasses
import re
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, ClassVar, Literal

from attribution_engine.records import BadRecord
from attribution_engine.targets import TargetText, target_from_record
from attribution_engine.train_config import TINY_MODEL, TrainConfig

# A run id as runs.py makes them (run-YYYYmmdd-HHMMSS-..., PARENT-attr-...): it becomes a folder
# name under <out>/runs, so never a path separator, never '..', never a leading '.'.
RUN_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")

# Targets per attribution job: each one adds a row to every replayed step, and the payload is
# one JSON value in the ledger's jobs table. More targets: queue several jobs.
MAX_TARGETS = 256


class JobKind(StrEnum):
    """The kinds of job the worker runs (the `kind` column of the jobs table)."""

    TRAIN = "train"  # train a run with attribution: TrainJob
    ATTRIBUTE = "attribute"  # replay a finished run with new targets attached: AttributeJob


class PayloadError(ValueError):
    """A job payload that cannot be run; the message names the field and the fix."""


@dataclass(frozen=True)
class TrainJob:
    """Train a run with attribution attached ("train").

    corpus_path: the corpus (a .jsonl or .csv file, or a folder of .txt files) by its name in
        the worker's corpus folder (roots.py); the worker reads it when the job runs.
    config: the recipe (every option and its default: attribution_engine/train_config.py).
    model: TINY_MODEL (from scratch) or a model folder's name in the worker's model folder.
    targets_path: an optional targets .jsonl file to attribute while training, in the worker's
        uploads or corpus folder; targets can also be attached later with an AttributeJob.
    lenient: skip (and list) bad corpus lines instead of refusing the corpus.
    """

    kind: ClassVar[JobKind] = JobKind.TRAIN

    corpus_path: Path
    config: TrainConfig = field(default_factory=TrainConfig)
    model: str = TINY_MODEL
    targets_path: Path | None = None
    lenient: bool = False

    def __post_init__(self) -> None:
        _require(isinstance(self.corpus_path, Path), "corpus_path", "must be a pathlib.Path")
        _require(str(self.corpus_path).strip() not in ("", "."), "corpus_path", "is empty")
        for name in ("corpus_path", "targets_path"):
            value = getattr(self, name)
            _require(
                value is None or ".." not in Path(value).parts,
                name,
                "must not contain '..'; name a file of the worker's corpus or uploads folder",
            )
        _require(isinstance(self.config, TrainConfig), "config", "must be a TrainConfig")
        _require(
            isinstance(self.model, str) and bool(self.model.strip()),
            "model",
            f"must be {TINY_MODEL!r} or a local model folder",
        )
        _require(
            self.targets_path is None or isinstance(self.targets_path, Path),
            "targets_path",
            "must be a pathlib.Path or None",
        )
        _require(isinstance(self.lenient, bool), "lenient", "must be true or false")

    def to_json(self) -> dict[str, Any]:
        return {
            "corpus_path": str(self.corpus_path),
            "config": self.config.as_dict(),
            "model": self.model,
            "targets_path": None if self.targets_path is None else str(self.targets_path),
            "lenient": self.lenient,
        }

    @classmethod
    def from_json(cls, data: object) -> TrainJob:
        """The job of a "train" row's payload; PayloadError names a bad or missing field."""
        fields = _fields(cls, _legacy_train_keys(_object(data, cls.kind)))
        corpus = _path(fields, "corpus_path", required=True)
        assert corpus is not None
        model = fields.get("model", TINY_MODEL)
        _require(isinstance(model, str), "model", f"must be a string, e.g. {TINY_MODEL!r}")
        return cls(
            corpus_path=corpus,
            config=config_from_json(fields.get("config", {})),
            model=model,
            targets_path=_path(fields, "targets_path", required=False),
            lenient=fields.get("lenient", False),
        )


@dataclass(frozen=True)
class AttributeJob:
    """Replay a finished training run with new targets attached ("attribute").

    run_key: the training run to replay (one running job per run: db/jobs.py).
    targets: 1 to MAX_TARGETS targets with distinct ids, carried in the payload itself.
    generated: the ids of the targets a model wrote (recorded with origin "generated"); the
    others are the user's text (origin "uploaded").
    """

    kind: ClassVar[JobKind] = JobKind.ATTRIBUTE

    run_key: str
    targets: tuple[TargetText, ...]
    generated: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _require(
            isinstance(self.run_key, str) and bool(self.run_key.strip()),
            "run_key",
            "must name the finished training run to replay",
        )
        _require(
            RUN_KEY.fullmatch(self.run_key) is not None and ".." not in self.run_key,
            "run_key",
            f"{self.run_key[:80]!r} is not a run id (letters, digits, '.', '_', '-'; no '/' or "
            "'..'); choose the run from the Runs page's list",
        )
        _require(
            isinstance(self.targets, tuple)
            and all(isinstance(t, TargetText) for t in self.targets),
            "targets",
            "must be a tuple of TargetText",
        )
        _require(bool(self.targets), "targets", "is empty; choose at least one target")
        _require(
            len(self.targets) <= MAX_TARGETS,
            "targets",
            f"holds {len(self.targets)} targets, over the {MAX_TARGETS} one job may carry "
            "(each adds a row to every replayed step); split them over several jobs",
        )
        seen: set[str] = set()
        for target in self.targets:
            _require(
                target.id not in seen,
                "targets",
                f"repeat the id {target.id!r}; give one of the two targets another id",
            )
            seen.add(target.id)
        _require(
            isinstance(self.generated, tuple) and all(isinstance(i, str) for i in self.generated),
            "generated",
            "must be a tuple of target ids",
        )
        strangers = sorted(set(self.generated) - seen)
        _require(
            not strangers,
            "generated",
            f"names {strangers[:5]}, not among the job's targets; list only ids of its targets",
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "run_key": self.run_key,
            "targets": [{"id": t.id, "text": t.text, "prompt": t.prompt} for t in self.targets],
            "generated": list(self.generated),
        }

    @classmethod
    def from_json(cls, data: object) -> AttributeJob:
        """The job of an "attribute" row's payload; PayloadError names a bad or missing field."""
        fields = _fields(cls, _object(data, cls.kind))
        run_key = fields.get("run_key")
        _require(isinstance(run_key, str), "run_key", "must be the run id, a string")
        records = fields.get("targets")
        _require(
            not isinstance(records, str),
            "targets",
            "is a file path (a job queued before jobs carried their targets); queue the "
            "attribution again from the Targets page or run `provenance attribute`",
        )
        _require(
            isinstance(records, list),
            "targets",
            'must be a list of objects like {"id": "t1", "text": "...", "prompt": null}',
        )
        assert isinstance(run_key, str) and isinstance(records, list)
        _require(
            len(records) <= MAX_TARGETS,
            "targets",
            f"holds {len(records)} targets, over the {MAX_TARGETS} one job may carry; split "
            "them over several jobs",
        )
        targets = []
        for index, record in enumerate(records):
            _require(isinstance(record, dict), f"targets[{index}]", "must be a JSON object")
            try:
                targets.append(target_from_record(record))
            except BadRecord as bad:
                raise PayloadError(f"'targets[{index}]': {bad}") from None
        generated = fields.get("generated", [])  # absent in jobs queued before it existed
        _require(
            isinstance(generated, list) and all(isinstance(i, str) for i in generated),
            "generated",
            "must be a list of target ids (strings)",
        )
        assert isinstance(generated, list)
        return cls(run_key=run_key, targets=tuple(targets), generated=tuple(generated))


JobPayload = TrainJob | AttributeJob
PAYLOAD_TYPES: dict[JobKind, type[TrainJob] | type[AttributeJob]] = {
    JobKind.TRAIN: TrainJob,
    JobKind.ATTRIBUTE: AttributeJob,
}


def read_payload(kind: str, data: object) -> JobPayload:
    """The typed payload of a job row (its `kind` column and JSON payload); PayloadError for an
    unknown kind or a payload that does not fit its kind."""
    try:
        job_kind = JobKind(kind)
    except ValueError:
        raise PayloadError(
            f"unknown job kind {kind!r}; the worker runs {[k.value for k in JobKind]}"
        ) from None
    return PAYLOAD_TYPES[job_kind].from_json(data)


def config_from_json(data: object) -> TrainConfig:
    """The TrainConfig of a payload's "config" object; absent options take their defaults.
    PayloadError names an unknown option or a value of the wrong type."""
    _require(isinstance(data, dict), "config", "must be an object of TrainConfig options")
    assert isinstance(data, dict)
    hints = typing.get_type_hints(TrainConfig)
    names = [f.name for f in dataclasses.fields(TrainConfig)]
    unknown = sorted(set(data) - set(names))
    _require(not unknown, "config", f"has unknown option(s) {unknown}; the options are {names}")
    for name, value in data.items():
        expected = _check_option(value, hints[name])
        _require(expected is None, f"config.{name}", f"must be {expected}, not {value!r}")
    try:
        return TrainConfig(**data)
    except ValueError as err:
        raise PayloadError(f"'config': {err}") from None


# ---------------------------------------------------------------------------------------------
# Helpers

# Keys of "train" payloads queued before payloads were typed (ledgers already in use may still
# hold such rows), and the fields they became.
_LEGACY_TRAIN_KEYS = {"corpus": "corpus_path", "targets": "targets_path"}


def _require(ok: bool, name: str, problem: str) -> None:
    if not ok:
        raise PayloadError(f"'{name}' {problem}")


def _object(data: object, kind: JobKind) -> dict[str, object]:
    if not isinstance(data, Mapping):
        raise PayloadError(
            f"a {kind.value!r} job's payload must be a JSON object, not {type(data).__name__}"
        )
    return dict(data)


def _legacy_train_keys(data: dict[str, object]) -> dict[str, object]:
    for old, new in _LEGACY_TRAIN_KEYS.items():
        if old in data and new not in data:
            data[new] = data.pop(old)
    return data


def _fields(cls: type, data: dict[str, object]) -> dict[str, object]:
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(data) - set(names))
    if unknown:
        raise PayloadError(
            f"unknown field(s) {unknown} in a {cls.kind.value!r} job's payload; its fields are "
            f"{names}"
        )
    return data


def _path(fields: Mapping[str, object], name: str, *, required: bool) -> Path | None:
    value = fields.get(name)
    if value is None and not required:
        return None
    _require(
        isinstance(value, str) and bool(value.strip()),
        name,
        "must be a path on the worker's machine, a non-empty string",
    )
    assert isinstance(value, str)
    return Path(value)


def _check_option(value: object, hint: object) -> str | None:
    """None if `value` fits the type `hint` of a TrainConfig option, else what it must be."""
    if typing.get_origin(hint) is Literal:
        choices = typing.get_args(hint)
        return None if value in choices else f"one of {list(choices)}"
    allowed = typing.get_args(hint) or (hint,)  # X | None -> (X, NoneType)
    for kind in allowed:
        if kind is type(None) and value is None:
            return None
        if kind is int and isinstance(value, int) and not isinstance(value, bool):
            return None
        if kind is float and isinstance(value, int | float) and not isinstance(value, bool):
            return None
    names = " or ".join("null" if k is type(None) else k.__name__ for k in allowed)
    return f"{'an' if names.startswith('int') else 'a'} {names}"
