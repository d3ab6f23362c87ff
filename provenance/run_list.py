"""The runs table the UI lists: the ledger's runs with what their recipes say (pure pandas).

The ledger hands each run's recipe back unread (`db.listings.list_runs`); it is read here, by
`Recipe.from_json`, the one reader of recipes.
"""

from __future__ import annotations

import pandas as pd

from provenance.recipe import Recipe

RUN_COLUMNS = [
    "run_key",
    "kind",
    "status",
    "committed_step",
    "total_steps",
    "parent",
    "corpus",
    "model",
    "targets",
    "created",
    "updated",
]


def with_recipes(runs: pd.DataFrame) -> pd.DataFrame:
    """`db.listings.list_runs` with `total_steps` and `model` from each run's recipe in place
    of the recipe itself (columns RUN_COLUMNS); None where the recipe does not say (a recipe
    this software cannot read, or a version-1 recipe of an epoch-based run)."""
    recipes = [readable_recipe(raw) for raw in runs["recipe"]]
    frame = runs.assign(
        total_steps=[r.total_steps if r else None for r in recipes],
        model=[r.model if r else None for r in recipes],
    )
    return frame[RUN_COLUMNS]


def readable_recipe(raw: object) -> Recipe | None:
    """The recipe the ledger stored, or None where this software cannot read it."""
    try:
        return Recipe.from_json(raw)  # type: ignore[arg-type]
    except ValueError:  # RecipeError, or a config TrainConfig refuses
        return None
