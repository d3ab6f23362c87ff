"""Where a target came from is recorded as it is (issue 19 item 8): a training run's targets
file is "file"; in a replay, the targets a model wrote are "generated" and the user's own text
(an upload, the Targets page, `provenance attribute --targets`) is "uploaded"."""

import shutil
from pathlib import Path

from attribution_engine.targets import TargetText
from db.models import TargetOrigin
from provenance.ledger_writer import target_origin
from provenance.recipe import Parent, Recipe

DATA = Path(__file__).parent / "data"


def _trained(tmp_path: Path) -> Recipe:
    shutil.copy(DATA / "recipe_v1.json", tmp_path / "recipe.json")
    shutil.copy(DATA / "schedule_v1.npy", tmp_path / "schedule.npy")
    return Recipe.load(tmp_path)


def test_replayed_targets_are_uploaded_unless_a_model_wrote_them(tmp_path):
    trained = _trained(tmp_path)
    assert target_origin(trained, "t1") is TargetOrigin.FILE
    targets = (TargetText("mine", "my own words"), TargetText("gen-0", "the model's words"))
    replay = trained.replay(
        "r-attr-1", "2026-12-02T00:00:00+00:00", targets, Parent("r", "/p"), generated=("gen-0",)
    )
    assert target_origin(replay, "mine") is TargetOrigin.UPLOADED
    assert target_origin(replay, "gen-0") is TargetOrigin.GENERATED


def test_the_generated_ids_survive_the_recipe_file_and_old_recipes_read_without_them(tmp_path):
    trained = _trained(tmp_path)
    replay = trained.replay(
        "r-attr-1",
        "2026-12-02T00:00:00+00:00",
        (TargetText("g", "w"),),
        Parent("r", "/p"),
        (),
        ("g",),
    )
    assert Recipe.from_json(replay.to_json()).generated == ("g",)
    older = {k: v for k, v in replay.to_json().items() if k != "generated"}
    assert Recipe.from_json(older).generated == ()
