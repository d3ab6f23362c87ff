"""Per-visit values summed into each document's raw and specific value, in float64.

A document's value is the sum over all its rows (chunks) and all steps (DESIGN 2.5).
Specific = the value for the target minus the value for the reference (DESIGN 2.4b), by the
one rule `shapley.specific_values`: the mean over the held-out reference columns, or the mean
over the other targets.
"""

import numpy as np

from attribution_engine.shapley import specific_values


def document_values(
    row_docs: list[str],
    visit_row: np.ndarray,
    visit_values: np.ndarray,
    n_targets: int,
    *,
    held_out: bool,
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(document ids sorted, raw [D, V], specific [D, V]) from per-visit values.

    row_docs: the document id of each training row. visit_row [n]: the row of each visit;
    visit_values [n, V + R]: its values for the V targets, then the R held-out reference
    columns (held_out=True; otherwise the targets contrast with each other, and R is 0).
    """
    doc_ids = sorted(set(row_docs))
    index = {doc: i for i, doc in enumerate(doc_ids)}
    row_to_doc = np.array([index[doc] for doc in row_docs], dtype=np.int64)
    values = np.zeros((len(doc_ids), visit_values.shape[1]), dtype=np.float64)  # [D, V + R]
    np.add.at(values, row_to_doc[visit_row], visit_values)
    raw = values[:, :n_targets]  # [D, V]
    if held_out:
        references = range(n_targets, values.shape[1])
        return doc_ids, raw, specific_values(values, reference=references)[:, :n_targets]
    return doc_ids, raw, specific_values(raw)
