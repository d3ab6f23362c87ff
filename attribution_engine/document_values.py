"""Per-visit values summed into each document's raw and specific value, in float64.

A document's value is the sum over all its rows (chunks) and all steps (DESIGN 2.5).
Specific = the value for the target minus the value for the reference (DESIGN 2.4b), by the
one rule `shapley.specific_values`: the mean over the reference columns (a document that is
itself a reference text leaves its own column out), or, with no reference column, the mean
over the other targets.
"""

from collections.abc import Mapping

import numpy as np

from attribution_engine.shapley import specific_values


def document_values(
    row_docs: list[str],
    visit_row: np.ndarray,
    visit_values: np.ndarray,
    n_targets: int,
    own_reference: Mapping[str, int] | None = None,
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(document ids sorted, raw [D, V], specific [D, V]) from per-visit values.

    row_docs: the document id of each training row. visit_row [n]: the row of each visit;
    visit_values [n, V + R]: its values for the V targets, then R reference columns (R = 0:
    the targets contrast with each other). own_reference: document id -> the reference column
    (0..R-1) that is that document's own text, left out of its reference mean.
    """
    doc_ids = sorted(set(row_docs))
    index = {doc: i for i, doc in enumerate(doc_ids)}
    row_to_doc = np.array([index[doc] for doc in row_docs], dtype=np.int64)
    values = np.zeros((len(doc_ids), visit_values.shape[1]), dtype=np.float64)  # [D, V + R]
    np.add.at(values, row_to_doc[visit_row], visit_values)
    raw = values[:, :n_targets]  # [D, V]
    n_references = values.shape[1] - n_targets
    if n_references == 0:
        return doc_ids, raw, specific_values(raw)
    exclude = own_columns(doc_ids, n_references, own_reference or {})
    columns = range(n_targets, values.shape[1])
    return doc_ids, raw, specific_values(values, columns, exclude)[:, :n_targets]


def own_columns(doc_ids: list[str], n_references: int, own_reference: Mapping[str, int]):
    """bool [D, R]: True at (d, j) where reference column j is document d's own text."""
    exclude = np.zeros((len(doc_ids), n_references), dtype=bool)
    for d, doc in enumerate(doc_ids):
        if doc in own_reference:
            exclude[d, own_reference[doc]] = True
    return exclude
