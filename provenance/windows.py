"""Values earned in a window of steps only (e.g. the last epoch), from the ledger's stored
per-visit values.

The ledger sums each (document, target) exactly (`db.rankings.window_sums`); the contrast into
specific values is the engine's one rule (`attribution_engine.shapley.specific_values`), the
same the ledger writer applies to whole runs.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sqlalchemy.orm import Session

from attribution_engine.document_values import own_columns
from attribution_engine.shapley import specific_values
from db.catalog import get_run, get_target, run_targets
from db.models import TargetOrigin
from db.rankings import window_sums
from provenance.recipe import Recipe, Reference


def window_values(
    session: Session, run_key: str, target_key: str, first_step: int, last_step: int
) -> pd.DataFrame:
    """Values of one target earned in steps first_step..last_step (inclusive).

    `specific` subtracts the same window of the run's reference: the mean over its reference
    targets or, in a run without them, the mean over its other targets (as the training run
    ranks). Columns doc_key, raw, specific (nats, + = lowered the target's loss), by doc_key;
    documents not visited in the window are absent.
    """
    if first_step > last_step:
        raise ValueError(f"empty step window {first_step}..{last_step}: first_step > last_step")
    get_target(session, run_key, target_key)  # LookupError naming the run's targets
    others = [
        t for t in run_targets(session, run_key, references=True) if t.target_key != target_key
    ]
    references = [t.target_key for t in others if t.origin == TargetOrigin.REFERENCE]
    contrast = references or [t.target_key for t in others]
    if not contrast:
        raise LookupError(f"run {run_key!r} has no reference or other target to contrast with")
    sums = window_sums(session, run_key, [target_key, *contrast], first_step, last_step)
    # [D, 1 + C]: the target's column first, a document's missing visits count 0.
    table = sums.pivot(index="doc_key", columns="target_key", values="value").reindex(
        columns=[target_key, *contrast], fill_value=0.0
    )
    visited = table[target_key].notna()
    matrix = table.fillna(0.0).to_numpy(dtype=np.float64)
    if references:
        # A corpus document that is a reference text leaves its own column out (DESIGN 2.4b).
        reference = Recipe.from_json(get_run(session, run_key).recipe).reference
        own = {doc: references.index(column) for doc, column in _own_keys(reference).items()}
        exclude = own_columns(list(table.index), len(references), own)
        specific = specific_values(matrix, range(1, matrix.shape[1]), exclude)[:, 0]
    else:
        specific = specific_values(matrix)[:, 0]
    frame = pd.DataFrame({"doc_key": table.index, "raw": matrix[:, 0], "specific": specific})[
        visited.to_numpy()
    ]
    return frame.sort_values("doc_key", ignore_index=True)


def _own_keys(reference: Reference) -> dict[str, str]:
    """Trained documents that are reference texts -> the ledger key of their own column."""
    return {doc: reference.columns[j] for doc, j in reference.own_columns.items()}
