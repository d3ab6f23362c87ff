"""One call of a module, seen from one of its parameters: how it adds to each row's gradient.

A parameter used twice (GPT-2's tied wte / lm_head) has two uses; its per-row gradient is the
sum over uses, so every dot product sums over pairs of uses, cross terms included.
Dimension legend: N rows, T tokens, V target columns, r x c the parameter's matrix frame.
"""

from dataclasses import dataclass

import torch

from attribution_engine.ghost.factors import Dense, Factor, OneHot, Routed, cat_rows


@dataclass(frozen=True)
class FactoredUse:
    """Row n's gradient is sum_t left[n, t] (x) right[n, t], in the parameter's [r, c] frame.

    A one-hot factor stands on the left (rows of the frame, as in an embedding table); the
    right factor is always dense.
    """

    left: Factor
    right: Factor

    @property
    def n_rows(self) -> int:
        return self.left.index.shape[0] if isinstance(self.left, OneHot) else self.left.x.shape[0]

    @property
    def n_tokens(self) -> int:
        factor = self.left
        return factor.index.shape[1] if isinstance(factor, OneHot) else factor.x.shape[1]

    @property
    def tensor(self) -> torch.Tensor:
        """The dense right factor: the use's dtype and device."""
        return self.right.x

    def rows(self, start: int, stop: int) -> "FactoredUse":
        return FactoredUse(self.left.rows(start, stop), self.right.rows(start, stop))


@dataclass(frozen=True)
class SummedUse:
    """Per-row gradients given whole [N, *param shape]: small parameters (biases, norms)."""

    grads: torch.Tensor

    @property
    def n_rows(self) -> int:
        return self.grads.shape[0]

    @property
    def tensor(self) -> torch.Tensor:
        return self.grads

    def rows(self, start: int, stop: int) -> "SummedUse":
        return SummedUse(self.grads[start:stop])


Use = FactoredUse | SummedUse


def cat_uses(chunks: list[list[Use]]) -> list[Use]:
    """One parameter's uses from several target chunks (the same calls in the same order in
    each, on different rows) as uses over all their rows, chunk after chunk."""
    if len(chunks) == 1:
        return chunks[0]
    if len({len(uses) for uses in chunks}) != 1:
        raise RuntimeError("target chunks recorded different calls of one parameter")
    out: list[Use] = []
    for same in zip(*chunks, strict=True):
        if isinstance(same[0], SummedUse):
            out.append(SummedUse(torch.cat([use.grads for use in same])))
        else:
            left = cat_rows([use.left for use in same])
            out.append(FactoredUse(left, cat_rows([use.right for use in same])))
    return out


def materialise_sum(uses: list[Use], shape: torch.Size) -> torch.Tensor:
    """Each row's gradient summed over `uses` (same rows), [N, *shape], in a buffer of its own
    (callers may scale it in place)."""
    n = uses[0].n_rows
    # Dense uses first: the first product allocates the buffer, so no zero fill is needed.
    ordered = sorted(uses, key=lambda use: isinstance(use, FactoredUse) and _is_scatter(use))
    first, rest = ordered[0], ordered[1:]
    if isinstance(first, SummedUse):
        out = first.grads.reshape(n, *shape).clone()  # never write into a captured tensor
    elif _is_scatter(first):
        out = first.tensor.new_zeros(n, *shape)
        _scatter(first, out)
    else:
        out = _outer_sum(first).reshape(n, *shape)
    for use in rest:
        if isinstance(use, SummedUse):
            out += use.grads.reshape(n, *shape)
        elif _is_scatter(use):
            _scatter(use, out)
        else:
            out.view(n, use.left.width, -1).add_(_outer_sum(use))
    return out


def _outer_sum(use: FactoredUse) -> torch.Tensor:
    """sum_t left_t (x) right_t per row, [N, r, c]; einsum lays the operands out for one
    batched GEMM (a bmm on a transposed view ran 1.7x slower on this CPU)."""
    return torch.einsum("ntr,ntc->nrc", use.left.x, use.right.x)


def _is_scatter(use: "FactoredUse") -> bool:
    return isinstance(use.left, OneHot | Routed)


def _scatter(use: "FactoredUse", out: torch.Tensor) -> None:
    """Add a one-hot or routed use's row gradients into out [N, *shape], in place."""
    n = out.shape[0]
    if isinstance(use.left, Routed):
        _scatter_blocks(use.left, use.right, out.view(n, use.left.blocks, use.left.block, -1))
    else:
        _scatter_rows(use.left, use.right, out.view(n * use.left.size, -1))


def _scatter_blocks(routed: Routed, dense: Dense, out: torch.Tensor) -> None:
    """out[n, e] += sum of x_t (x) dense_t over row n's slots routed to expert e, out
    [N, E, k, c]: per expert, its slots packed into [N, L, .] (L the most any row sends it)
    and one batched GEMM, so each slot costs one pass over its expert's k x c slice only."""
    n, k, c = routed.x.shape[0], routed.block, dense.width
    for e in routed.index.unique().tolist():
        mask = routed.index == e  # N x S
        rows, slots = mask.nonzero(as_tuple=True)
        place = (mask.cumsum(1) - 1)[rows, slots]  # each slot's position among its row's
        length = int(mask.sum(1).max())
        xs = routed.x.new_zeros(n, length, k)
        xs[rows, place] = routed.x[rows, slots]
        ys = dense.x.new_zeros(n, length, c)
        ys[rows, place] = dense.x[rows, slots]
        out[:, e] += xs.transpose(1, 2) @ ys  # N x k x c


def _scatter_rows(onehot: OneHot, dense: Dense, out: torch.Tensor) -> None:
    """out[n * size + id_t] += dense_t for every token: one-hot (x) dense without a one-hot."""
    values = dense.x if onehot.weight is None else dense.x * onehot.weight.unsqueeze(-1)
    n = values.shape[0]
    offsets = torch.arange(n, device=values.device).unsqueeze(1) * onehot.size  # N x 1
    out.index_add_(0, (onehot.index + offsets).reshape(-1), values.reshape(-1, dense.width))


def dot_with_matrices(use: Use, matrices: torch.Tensor) -> torch.Tensor:
    """<row n's gradient from this use, matrices[v]> for every row and column: [N, V].

    `matrices` is [V, *param shape]; for a factored use it is read in the [r, c] frame and
    contracted token by token, sum_t left_t^T M_v right_t, without forming row gradients.
    """
    n, v = use.n_rows, matrices.shape[0]
    if isinstance(use, SummedUse):
        return use.grads.reshape(n, -1) @ matrices.reshape(v, -1).T
    left, right = use.left, use.right
    r, c = left.width, right.width
    frame = matrices.reshape(v, r, c)
    if isinstance(left, Routed):
        per_token = _routed_dots(left, right, matrices)
    elif isinstance(left, OneHot):
        picked = frame[:, left.index.reshape(-1), :]  # V x M x c
        per_token = (picked * right.x.reshape(1, -1, c)).sum(-1)
        if left.weight is not None:
            per_token = per_token * left.weight.reshape(1, -1)
    elif r >= c:  # contract the wider side first, keep M x V x c
        left_m = left.x.reshape(-1, r)
        projected = (left_m @ frame.permute(1, 0, 2).reshape(r, v * c)).view(-1, v, c)
        per_token = (projected * right.x.reshape(-1, 1, c)).sum(-1).T
    else:
        right_m = right.x.reshape(-1, c)
        projected = (right_m @ frame.permute(2, 0, 1).reshape(c, v * r)).view(-1, v, r)
        per_token = (projected * left.x.reshape(-1, 1, r)).sum(-1).T
    return per_token.reshape(v, n, -1).sum(-1).T  # N x V


def _routed_dots(left: Routed, right: Dense, matrices: torch.Tensor) -> torch.Tensor:
    """x_t^T M_v[e_t] right_t for every slot t, [V, M]: the slots of one expert at a time, so
    each reads only its expert's slice [V, k, c] of the matrices."""
    v, k, c = matrices.shape[0], left.block, right.width
    blocks = matrices.reshape(v, left.blocks, k, c)
    x, y, index = left.x.reshape(-1, k), right.x.reshape(-1, c), left.index.reshape(-1)
    out = x.new_zeros(v, index.shape[0])
    for e in index.unique().tolist():
        slots = (index == e).nonzero().squeeze(1)  # S
        projected = x[slots] @ blocks[:, e].permute(1, 0, 2).reshape(k, v * c)  # S x (V c)
        out[:, slots] = (projected.view(-1, v, c) * y[slots].unsqueeze(1)).sum(-1).T
    return out
