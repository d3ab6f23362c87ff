"""Reciprocal-rank fusion: one ranking from several, by each item's positions in them.

score(d) = sum over rankings r of 1 / (FUSION_K + rank_r(d)), rank 1 = best (Cormack, Clarke
and Buettcher, SIGIR 2009). The product's default document ranking fuses the ranking by
specific value (training contribution) with BM25 word overlap: on the planted benchmark it was
never worse than the specific value alone and the only candidate ahead of BM25 on heavy
paraphrase after fine-tuning (docs/fidelity.md, section 2.1).
"""

import numpy as np

FUSION_K = 60  # Cormack et al.'s constant, not tuned on our benchmark (so it cannot overfit it)


def ordinal_ranks(scores: np.ndarray) -> np.ndarray:
    """int64 ranks 1..D per column of scores [D] or [D, V], higher score = better rank; ties
    keep input order (the first of equal scores ranks higher)."""
    order = np.argsort(-scores, axis=0, kind="stable")
    ranks = np.empty_like(order)
    positions = np.arange(1, scores.shape[0] + 1)
    np.put_along_axis(ranks, order, positions.reshape(-1, *([1] * (scores.ndim - 1))), axis=0)
    return ranks


def fused_scores(*ranks: np.ndarray) -> np.ndarray:
    """float64 fusion score of rank arrays of one shape (1-based); higher = better."""
    return sum(1.0 / (FUSION_K + np.asarray(r, dtype=np.float64)) for r in ranks)


def contribution_scores(specific: np.ndarray, words: np.ndarray) -> np.ndarray:
    """The product's default ranking score of each document, per column of [D] or [D, V]:
    the fusion of its rank by specific value and its rank by word overlap (e.g. BM25), both
    among all D documents; -inf where the specific value is <= 0, since word overlap may
    reorder the documents whose training lowered the target's loss but never adds others."""
    fused = fused_scores(ordinal_ranks(specific), ordinal_ranks(words))
    fused[specific <= 0] = -np.inf
    return fused
