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
from provenance.jobs.payloads import AttributeJob, PayloadError, TrainJob
from provenance.jobs.roots import Roots

_OPTIONS = {option.name: option for option in dataclasses.fields(TrainConfig)}


def default(option: str) -> Any:
    """TrainConfig's default for `option` (a field name), for a form widget's initial value."""
    return _OPTIONS[option].default


def help_text(option: str) -> str:
    """TrainConfig's help text for `option`, for a form widget's tooltip."""
    return _OPTIONS[option].metadata["help"]


def train_job(roots: Roots, corpus: str, model: str, **options: Any) -> TrainJob:
    """The "train" job of the Runs form: `corpus` and `model` are names the form listed from
    the corpus and model folders (`roots.corpus_choices()`, `roots.model_choices()`), never
    paths; `options` are TrainConfig fields (the rest keep their defaults). PayloadError (a
    ValueError) says which field is wrong and how to fix it.

    The payload carries the names; the worker resolves them against its own folders again.
    """
    if not corpus.strip():
        raise PayloadError("choose a corpus from the list, or upload one (JSONL or CSV)")
    name = roots.corpus(corpus).relative_to(roots.corpora.resolve())  # or PayloadError
    model = model.strip() or TINY_MODEL
    if model != TINY_MODEL:
        model = str(Path(roots.model(model)).relative_to(roots.models.resolve()))
    unknown = sorted(set(options) - set(_OPTIONS))
    if unknown:
        raise PayloadError(
            f"unknown training option(s) {unknown}; the options are {list(_OPTIONS)}"
        )
    return TrainJob(corpus_path=name, config=TrainConfig(**options), model=model)


def attribute_job(
    run_key: str, targets: Iterable[TargetText], generated: Iterable[str] = ()
) -> AttributeJob:
    """The "attribute" job that replays `run_key` with `targets` attached (the Targets page's
    chosen targets, or a file of them on the Runs page); `generated`: the ids of those a model
    wrote. PayloadError (a ValueError) for no targets, too many, or two with one id."""
    return AttributeJob(run_key=run_key, targets=tuple(targets), generated=tuple(generated))
