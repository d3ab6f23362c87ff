"""Documents ranked by their contribution to one target of a finished run.

A document's value is the sum over all its rows (chunks) and all steps (DESIGN 2.5), in float64.
Specific contribution = value for the target minus value for the reference (DESIGN 2.4b): the
mean over the held-out reference rows, or the mean over the other targets.
"""

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from attribution_engine.corpus import load_corpus


class RankingError(ValueError):
    """The run or target asked for does not exist or cannot be ranked."""


@dataclass(frozen=True)
class RankedDocument:
    rank: int
    doc_id: str
    value: float  # the ranking value: specific or raw, nats (+ = lowered the target's loss)
    raw_value: float
    specific_value: float
    share: float  # value / sum of the positive ranking values over all documents (0 if negative)
    source: str | None
    title: str | None


def document_values(path: Path) -> tuple[list[str], np.ndarray, np.ndarray, list[str]]:
    """(document ids, raw values [D, V], specific values [D, V], target ids) of a run."""
    recipe = json.loads((path / "recipe.json").read_text())
    results = np.load(path / "results.npz")
    row_docs = json.loads((path / "rows.json").read_text())
    doc_ids, raw, specific = aggregate(
        row_docs, results["visit_row"], results["visit_values"], recipe
    )
    return doc_ids, raw, specific, [t["id"] for t in recipe["targets"]]


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


def top_documents(path: Path, target_id: str, k: int = 10, by: str = "specific"):
    """The k documents that contributed most to `target_id`, ranked by specific or raw value."""
    doc_ids, raw, specific, target_ids = document_values(path)
    if target_id not in target_ids:
        raise RankingError(f"run has no target {target_id!r}; its targets are {target_ids}")
    v = target_ids.index(target_id)
    ranking = specific[:, v] if by == "specific" else raw[:, v]
    positive = ranking[ranking > 0].sum()
    order = np.argsort(-ranking, kind="stable")[:k]
    recipe = json.loads((path / "recipe.json").read_text())
    corpus = load_corpus(recipe["corpus"]["path"], lenient=recipe["corpus"]["lenient"])
    meta = {d.id: d for d in corpus.documents}
    return [
        RankedDocument(
            rank=rank,
            doc_id=doc_ids[i],
            value=float(ranking[i]),
            raw_value=float(raw[i, v]),
            specific_value=float(specific[i, v]),
            share=float(max(ranking[i], 0.0) / positive) if positive > 0 else 0.0,
            source=meta[doc_ids[i]].source,
            title=meta[doc_ids[i]].title,
        )
        for rank, i in enumerate(order.tolist(), start=1)
    ]
