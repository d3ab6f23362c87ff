"""Cost of each ghost strategy for one parameter, in multiply-adds, so the cheapest is chosen.

Sequence lengths and the number of target columns change between calls, so the choice is made
per call and never cached. Notation: M = B*T training tokens, M' = V*T' target tokens,
C columns (targets, plus second-order columns), r x c the parameter's matrix frame.
Strategy (c) costs the targets' materialise_cost plus matrix_dot_cost per training use.
"""

import math

import torch

from attribution_engine.ghost.factors import Dense, Factor, Routed
from attribution_engine.ghost.uses import FactoredUse, Use


def _tokens(use: FactoredUse) -> int:
    return use.n_rows * use.n_tokens


def _factor_dot(first: Factor, second: Factor) -> int:
    """One token-pair dot product: the width for two dense vectors, the block width for two
    routed ones (computed for every pair, then masked to same-expert pairs), a single read
    otherwise."""
    if isinstance(first, Routed) and isinstance(second, Routed):
        return first.block
    return first.width if isinstance(first, Dense) and isinstance(second, Dense) else 1


def _dense_area(use: FactoredUse) -> int:
    """Work per token to touch the frame: r*c when both factors are dense, k*c for a routed
    left factor (its expert's k x c slice), else the dense width."""
    if isinstance(use.left, Dense):
        return use.left.width * use.right.width
    if isinstance(use.left, Routed):
        return use.left.block * use.right.width
    return use.right.width  # a one-hot left factor touches one row of the frame


def gram_cost(train: list[Use], target: list[Use]) -> float:
    """Strategy (a): per pair of uses, two Gram matrices of M x M' token pairs (each entry a
    dot over the factor width, or one read for a one-hot factor) and their Hadamard product
    and reduction, one more operation per entry. Undefined (infinite) for summed uses."""
    if not all(isinstance(use, FactoredUse) for use in train + target):
        return math.inf
    total = 0
    for mine in train:
        for theirs in target:
            per_pair = _factor_dot(mine.left, theirs.left) + _factor_dot(mine.right, theirs.right)
            total += _pairs(mine, theirs) * (per_pair + 1)
    return float(total)


def _pairs(mine: FactoredUse, theirs: FactoredUse) -> int:
    """Token pairs formed: all of them, or for routed uses only those on the same expert
    (sum over experts of their slot counts' product)."""
    if isinstance(mine.left, Routed) and isinstance(theirs.left, Routed):
        blocks = mine.left.blocks
        counts = torch.bincount(mine.left.index.reshape(-1), minlength=blocks)
        other = torch.bincount(theirs.left.index.reshape(-1), minlength=blocks)
        return int((counts * other).sum())  # no integer matmul on CUDA
    return _tokens(mine) * _tokens(theirs)


def materialise_cost(use: Use) -> float:
    """Forming each row's gradient from a use: one multiply-add per token and frame entry
    touched (r*c for dense factors, the dense width for a one-hot one); free when given."""
    if not isinstance(use, FactoredUse):
        return 0.0
    return float(_tokens(use) * _dense_area(use))


def matrix_dot_cost(use: Use, columns: int, numel: int) -> float:
    """Contracting every token of a use with C materialised matrices: per token and column,
    one pass over the frame entries it touches; a summed use is one dot of N x numel by C."""
    if not isinstance(use, FactoredUse):
        return float(use.n_rows * columns * numel)
    return float(_tokens(use) * columns * _dense_area(use))


def per_sample_cost(use: Use, columns: int, numel: int, chunks: int = 1) -> float:
    """Strategy (b) for one training use: form each row's gradient, then one
    B x numel by numel x C product. When the C columns come in `chunks` column chunks and the
    rows' gradients cannot be kept across them, each chunk forms them again: the materialise
    cost counts `chunks` times, the product still once in all."""
    return materialise_cost(use) * chunks + float(use.n_rows * columns * numel)
