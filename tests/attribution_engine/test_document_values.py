"""Per-visit values summed per document, and the specific value's one rule, against a plain loop:
the reference mean leaves out the column that is a document's own text."""

import math

import numpy as np
import pytest

from attribution_engine.document_values import document_values
from attribution_engine.errors import AttributionInputError
from attribution_engine.shapley import specific_values


def _visits(n_targets: int, n_references: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    row_docs = ["a", "b", "b", "c", "d", "e"]  # b has two rows (chunks)
    visit_row = rng.integers(0, len(row_docs), size=40)
    visit_values = rng.standard_normal((40, n_targets + n_references))
    return row_docs, visit_row, visit_values


@pytest.mark.parametrize("own", [{}, {"b": 0, "d": 2}, {"a": 0, "b": 1, "c": 2}])
def test_the_reference_mean_leaves_out_a_documents_own_column(own):
    row_docs, visit_row, visit_values = _visits(n_targets=2, n_references=3)
    doc_ids, raw, specific = document_values(row_docs, visit_row, visit_values, 2, own)
    assert doc_ids == ["a", "b", "c", "d", "e"]
    for d, doc in enumerate(doc_ids):
        mine = [v for r, v in zip(visit_row, visit_values, strict=True) if row_docs[r] == doc]
        for t in range(2):
            total = math.fsum(v[t] for v in mine)
            columns = [j for j in range(3) if own.get(doc) != j]
            reference = sum(math.fsum(v[2 + j] for v in mine) for j in columns) / len(columns)
            assert raw[d, t] == pytest.approx(total, rel=1e-12, abs=1e-12)
            assert specific[d, t] == pytest.approx(total - reference, rel=1e-12, abs=1e-12)


def test_without_reference_columns_each_target_contrasts_with_the_others():
    row_docs, visit_row, visit_values = _visits(n_targets=3, n_references=0)
    _, raw, specific = document_values(row_docs, visit_row, visit_values, 3)
    others = (raw.sum(1, keepdims=True) - raw) / 2
    np.testing.assert_allclose(specific, raw - others, rtol=1e-12)


def test_a_row_with_no_reference_left_is_refused():
    values = np.ones((2, 2))
    with pytest.raises(AttributionInputError, match="no reference left"):
        specific_values(values, [1], np.array([[True], [False]]))
