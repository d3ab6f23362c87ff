"""Job payloads built from the Runs and Targets pages' forms, checked before anything is
queued (pure: no Streamlit). The form's defaults and help texts come from TrainConfig's
fields, so that no default is written twice."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from attribution_engine.targets import TargetText
from attribution_engine.train_config import TINY_MODEL, TrainConfig
from provenance.jobs.payloads import AttributeJob, TrainJob

_OPTIONS = {option.name: option for option in dataclasses.fields(TrainConfig)}


def default(option: str) -> Any:
    """TrainConfig's default for `option` (a field name), for a form widget's initial value."""
    return _OPTIONS[option].default


def help_text(option: str) -> str:
    """TrainConfig's help text for `option`, for a form widget's tooltip."""
    return _OPTIONS[option].metadata["help"]


def train_job(corpus: str, model: str, **options: Any) -> TrainJob:
    """The "train" job of the Runs form; `options` are TrainConfig fields (the rest keep their
    defaults). ValueError says which field is wrong and how to fix it.

    The corpus and model are checked on this server's disk, which is the worker's disk in a
    one-machine setup; the worker reads them again when the job runs.
    """
    if not corpus.strip():
        raise ValueError("give the corpus: a JSONL or CSV file, or a folder of .txt files")
    corpus_path = Path(corpus.strip()).expanduser()
    if not corpus_path.exists():
        raise ValueError(f"corpus {corpus_path} does not exist on the server; check the path")
    model = model.strip() or TINY_MODEL
    if model != TINY_MODEL and not (Path(model).expanduser() / "config.json").is_file():
        raise ValueError(
            f"model {model!r} is neither {TINY_MODEL} nor a local Hugging Face model folder "
            "(a folder with config.json); nothing is downloaded"
        )
    unknown = sorted(set(options) - set(_OPTIONS))
    if unknown:
        raise ValueError(f"unknown training option(s) {unknown}; the options are {list(_OPTIONS)}")
    return TrainJob(corpus_path=corpus_path.resolve(), config=TrainConfig(**options), model=model)


def attribute_job(run_key: str, targets: Iterable[TargetText]) -> AttributeJob:
    """The "attribute" job that replays `run_key` with `targets` attached (the Targets page's
    chosen targets, or a file of them on the Runs page). PayloadError (a ValueError) for no
    targets, too many, or two with one id."""
    return AttributeJob(run_key=run_key, targets=tuple(targets))
