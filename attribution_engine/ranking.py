"""Per-visit values summed into each document's raw and specific value (the ledger writer's
aggregation; reads and rankings are in db/repository.py).

A document's value is the sum over all its rows (chunks) and all steps (DESIGN 2.5), in float64.
Specific contribution = value for the target minus value for the reference (DESIGN 2.4b): the
mean over the held-out reference rows, or the mean over the other targets.
"""

import numpy as np


class RankingError(ValueError):
    """The run's values cannot be turned into specific values (see aggregate)."""


def aggregate(
    row_docs: list[str], visit_row: np.ndarray, visit_values: np.ndarray, recipe: dict
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Per-visit values [n, V + references] summed per document: (ids, raw, specific)."""
    doc_ids = sorted(set(row_docs))
    index = {doc: i for i, doc in enumerate(doc_ids)}
    row_to_doc = np.array([index[doc] for doc in row_docs], dtype=np.int64)
    values = np.zeros((len(doc_ids), visit_values.shape[1]), dtype=np.float64)
    np.add.at(values, row_to_doc[visit_row], visit_values)
    n_targets = len(recipe["targets"])
    raw = values[:, :n_targets]
    if recipe["reference"]["kind"] == "held_out":
        reference = values[:, n_targets:].mean(axis=1, keepdims=True)
    else:
        if n_targets < 2:
            raise RankingError("contrast with the other targets needs at least two targets")
        reference = (raw.sum(axis=1, keepdims=True) - raw) / (n_targets - 1)
    return doc_ids, raw, raw - reference
