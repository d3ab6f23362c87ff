"""The typed Recipe: one load/save, versioned, and version-1 files (written by the code before
it, tests/provenance/data/recipe_v1.json) read through the one compatibility path."""

import json
import shutil
from pathlib import Path

import pytest

from attribution_engine.targets import TargetText
from attribution_engine.train_config import TrainConfig
from benchmarks.ledger_seed import make_recipe
from provenance.recipe import VERSION, Parent, Recipe, RecipeError

DATA = Path(__file__).parent / "data"


def _version_1_run(tmp_path: Path) -> Path:
    shutil.copy(DATA / "recipe_v1.json", tmp_path / "recipe.json")
    shutil.copy(DATA / "schedule_v1.npy", tmp_path / "schedule.npy")
    return tmp_path


def test_a_version_1_run_directory_reads_with_resolved_accounting_and_its_steps(tmp_path):
    recipe = Recipe.load(_version_1_run(tmp_path))
    raw = json.loads((DATA / "recipe_v1.json").read_text())
    assert "version" not in raw and "accounting" not in raw  # really the old format
    assert recipe.accounting == "adam"  # auto under adamw, by the engine's rule
    assert recipe.total_steps == 9  # the rows of schedule.npy
    assert recipe.config == TrainConfig(**raw["config"])
    assert recipe.targets == (TargetText("t1", "the people of the nation", "We"),)
    assert recipe.reference.kind == "held_out" and len(recipe.reference.doc_ids) == 4
    assert recipe.value_columns[0] == "t1"
    assert recipe.value_columns[1:] == tuple(f"reference:{d}" for d in raw["reference"]["doc_ids"])
    assert recipe.parent is None and recipe.from_scratch


def test_a_version_1_recipe_from_the_ledger_alone_has_unknown_steps():
    raw = json.loads((DATA / "recipe_v1.json").read_text())
    assert Recipe.from_json(raw).total_steps is None  # epoch-based: never guessed
    fixed = {**raw, "config": {**raw["config"], "steps": 5, "optimizer": "sgd"}}
    recipe = Recipe.from_json(fixed)
    assert recipe.total_steps == 5 and recipe.accounting == "sgd_proxy"


def test_save_then_load_gives_the_same_recipe_at_the_current_version(tmp_path):
    recipe = Recipe.load(_version_1_run(tmp_path))
    replay = recipe.replay(
        "run-x-attr-1", "2026-12-01T00:00:00+00:00", (TargetText("g", "words"),), Parent("a", "/p")
    )
    replay.save(tmp_path)
    written = json.loads((tmp_path / "recipe.json").read_text())
    assert written["version"] == VERSION and written["accounting"] == "adam"
    assert written["total_steps"] == 9
    assert Recipe.load(tmp_path) == replay
    assert Recipe.from_json(replay.to_json()) == replay
    assert replay.kind == "attribute" and replay.parent == Parent("a", "/p")


def test_a_recipe_of_a_newer_version_or_with_a_missing_field_is_refused_by_name(tmp_path):
    recipe = make_recipe()
    with pytest.raises(RecipeError, match="version 99"):
        Recipe.from_json({**recipe.to_json(), "version": 99}, where="x/recipe.json")
    broken = recipe.to_json()
    del broken["corpus"]["sha256"]
    with pytest.raises(RecipeError, match=r"x/recipe.json: missing or malformed field.*sha256"):
        Recipe.from_json(broken, where="x/recipe.json")
    with pytest.raises(RecipeError, match="JSON object"):
        Recipe.from_json([], where="x/recipe.json")
