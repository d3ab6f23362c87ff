"""A complete Recipe for tests that need one without training a run."""

import dataclasses

from attribution_engine.train_config import TINY_MODEL, TrainConfig
from provenance.recipe import CorpusRecord, Recipe, Reference


def make_recipe(run_id: str = "r1", *, config: TrainConfig | None = None, **fields) -> Recipe:
    """A from-scratch train recipe of 3 steps with no targets; `fields` replace any field."""
    config = config or TrainConfig()
    recipe = Recipe(
        run_id=run_id,
        kind="train",
        created="2026-12-01T00:00:00+00:00",
        config=config,
        model=TINY_MODEL,
        corpus=CorpusRecord("/corpus.jsonl", "0" * 64, 1, (), False, ()),
        tokenizer_sha256="1" * 64,
        initial_weights_sha256="2" * 64,
        reference=Reference("other_targets", (), ()),
        targets=(),
        accounting=config.resolved_accounting().value,
        total_steps=3,
    )
    return dataclasses.replace(recipe, **fields)
