"""Per-token factors of a weight gradient and the products between them.

A use of a weight matrix W [r, c] adds, for every token t of a row, the outer product
left_t (x) right_t to that row's gradient (a Linear's output gradient and input, an
Embedding's one-hot token and output gradient). Everything the ghost strategies need is a
dot product between factors, so each factor kind knows how to form one.
Dimension legend: N rows, T tokens per row, M = N*T flattened tokens, k factor width.
"""

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Dense:
    """Dense per-token vectors x [N, T, k]."""

    x: torch.Tensor

    @property
    def width(self) -> int:
        return self.x.shape[-1]

    def rows(self, start: int, stop: int) -> "Dense":
        return Dense(self.x[start:stop])

    def scaled(self, scale: torch.Tensor) -> "Dense":
        """Every vector multiplied elementwise by scale [k]."""
        return Dense(self.x * scale)


@dataclass(frozen=True)
class OneHot:
    """One-hot vectors of width `size` at index [N, T], each times weight [N, T] (None = 1)."""

    index: torch.Tensor
    size: int
    weight: torch.Tensor | None = None

    @property
    def width(self) -> int:
        return self.size

    def rows(self, start: int, stop: int) -> "OneHot":
        weight = None if self.weight is None else self.weight[start:stop]
        return OneHot(self.index[start:stop], self.size, weight)

    def scaled(self, scale: torch.Tensor) -> "OneHot":
        picked = scale[self.index]  # N x T
        return OneHot(
            self.index, self.size, picked if self.weight is None else self.weight * picked
        )


@dataclass(frozen=True)
class Routed:
    """Dense vectors x [N, T, k], each placed in block index [N, T] of `blocks` blocks: a vector
    of width blocks * k that is zero outside one block (a fused expert weight's slice).

    An expert weight [E, r, c] read as one [E*r, c] frame gets, per routed token, the outer
    product of such a vector with a dense one; T then counts (token, chosen expert) slots.
    """

    index: torch.Tensor
    x: torch.Tensor
    blocks: int

    @property
    def width(self) -> int:
        return self.blocks * self.x.shape[-1]

    @property
    def block(self) -> int:
        return self.x.shape[-1]

    def rows(self, start: int, stop: int) -> "Routed":
        return Routed(self.index[start:stop], self.x[start:stop], self.blocks)

    def scaled(self, scale: torch.Tensor) -> "Routed":
        """Every vector multiplied by its own block of scale [blocks * k]."""
        return Routed(self.index, self.x * scale.view(self.blocks, -1)[self.index], self.blocks)


Factor = Dense | OneHot | Routed


def cat_rows(factors: list[Factor]) -> Factor:
    """One factor holding the rows of `factors` (all of one kind and token count) in order."""
    first = factors[0]
    if isinstance(first, Dense):
        return Dense(torch.cat([f.x for f in factors]))
    if isinstance(first, Routed):
        index = torch.cat([f.index for f in factors])
        return Routed(index, torch.cat([f.x for f in factors]), first.blocks)
    index = torch.cat([f.index for f in factors])
    weights = [f.weight for f in factors]
    if all(w is None for w in weights):
        return OneHot(index, first.size)
    given = next(w for w in weights if w is not None)
    filled = [
        torch.ones(f.index.shape, dtype=given.dtype, device=given.device) if w is None else w
        for f, w in zip(factors, weights, strict=True)
    ]
    return OneHot(index, first.size, torch.cat(filled))


def token_gram(first: Factor, second: Factor, dtype: torch.dtype) -> torch.Tensor:
    """Dot products of every token of `first` with every token of `second`: [M1, M2]."""
    if isinstance(first, Routed) or isinstance(second, Routed):
        return _routed_gram(first, second)
    if isinstance(first, Dense) and isinstance(second, Dense):
        return first.x.reshape(-1, first.width) @ second.x.reshape(-1, second.width).T
    if isinstance(first, OneHot) and isinstance(second, OneHot):
        same = first.index.reshape(-1, 1) == second.index.reshape(1, -1)  # M1 x M2
        gram = same.to(dtype)
        if first.weight is not None:
            gram = gram * first.weight.reshape(-1, 1)
        if second.weight is not None:
            gram = gram * second.weight.reshape(1, -1)
        return gram
    if isinstance(second, OneHot):
        return token_gram(second, first, dtype).T
    # first one-hot, second dense: pick the dense entries at the one-hot positions
    dense = second.x.reshape(-1, second.width)  # M2 x k
    gram = dense[:, first.index.reshape(-1)].T  # M1 x M2
    if first.weight is not None:
        gram = gram * first.weight.reshape(-1, 1)
    return gram


def _routed_gram(first: Factor, second: Factor) -> torch.Tensor:
    """(block_i == block_j) * (x_i . x_j): vectors in different blocks are orthogonal."""
    if not (isinstance(first, Routed) and isinstance(second, Routed)):
        raise TypeError(
            f"no token Gram between {type(first).__name__} and {type(second).__name__} factors; "
            "a routed (expert) weight's uses must all be routed"
        )
    k = first.block
    gram = first.x.reshape(-1, k) @ second.x.reshape(-1, k).T  # M1 x M2
    same = first.index.reshape(-1, 1) == second.index.reshape(1, -1)  # M1 x M2
    return gram * same.to(gram.dtype)
