"""Per-row dot products of one parameter's gradient with the target columns, by strategy.

value[i, v] = <G_i, scale (.) G_v> for the first-order columns (G_v the target's gradient) and
<G_i, extra[w]> for columns given already materialised (the second-order vectors).
Dimension legend: B training rows, T tokens, V targets, T' target tokens, C columns.
"""

from collections.abc import Callable
from dataclasses import dataclass

import torch

from attribution_engine.config import Strategy
from attribution_engine.errors import AttributionInputError
from attribution_engine.ghost.costs import (
    gram_cost,
    materialise_cost,
    matrix_dot_cost,
    per_sample_cost,
)
from attribution_engine.ghost.factors import Routed, token_gram
from attribution_engine.ghost.uses import (
    FactoredUse,
    Use,
    dot_with_matrices,
    materialise_sum,
)

# Elements of the largest intermediate a chunk of training rows may create (16 MiB in fp32):
# at 64 MiB the 8-target benchmark peaked at 1.44x plain memory, at 16 MiB 1.28x, same speed.
CHUNK_ELEMENTS = 1 << 22
# Elements of materialised column matrices [C, *shape] formed at once (512 MiB in fp32), and of
# every training row's gradient kept across those column chunks. GPT-2's tied 50,257 x 768
# embedding is 38.6M elements: all targets at once held 154 MiB per target (9.9 GiB for 64);
# three per chunk bound it, and its 4 rows' gradients (618 MiB) are formed once, not per chunk.
MATRIX_ELEMENTS = 1 << 27
ROW_GRADIENT_ELEMENTS = 1 << 28


@dataclass(frozen=True)
class Scale:
    """Per-coordinate multiplier of a parameter's update share.

    scalar * (rows (x) cols) when factored (rows [r], cols [c], either may be None = ones),
    scalar * full when elementwise (full has the parameter's shape). Gram needs no `full`.
    """

    scalar: float
    rows: torch.Tensor | None = None
    cols: torch.Tensor | None = None
    full: torch.Tensor | None = None

    def apply(self, matrices: torch.Tensor) -> torch.Tensor:
        """Scaled copy of materialised matrices [C, *shape]."""
        return self.apply_per_coordinate_(matrices.clone()).mul_(self.scalar)

    def apply_per_coordinate_(self, matrices: torch.Tensor) -> torch.Tensor:
        """Everything but the scalar (which callers may fold into the dot products instead),
        in place: with eight targets a scaled copy of the lm_head's matrices was 64 MiB."""
        if self.full is not None:
            return matrices.mul_(self.full)
        frame = matrices.view(matrices.shape[0], matrices.shape[1], -1)  # C x r x c (c = 1: vector)
        if self.rows is not None:
            frame.mul_(self.rows.reshape(1, -1, 1))
        if self.cols is not None:
            frame.mul_(self.cols.reshape(1, 1, -1))
        return matrices


def parameter_values(
    train: list[Use],
    target: list[Use],
    scale: Scale,
    shape: torch.Size,
    extra: torch.Tensor | None,
    strategy: Strategy,
    n_targets: int,
) -> torch.Tensor:
    """float64 [B, V + C_extra]: each training row's dot with every column, for one parameter.

    `target` may be empty (no target row touches the parameter): its V columns are then 0.
    """
    n_extra = 0 if extra is None else extra.shape[0]
    if not target:
        first = torch.zeros(train[0].n_rows, n_targets, dtype=torch.float64)
    elif _gram_chosen(train, target, scale, n_extra, shape.numel(), strategy):
        first = _gram_values(train, target, scale)
    else:  # the scalar is folded into the V first-order columns of the result
        given = None if extra is None else extra.to(train[0].tensor.dtype)

        def columns(start: int, stop: int) -> torch.Tensor:
            """Columns start..stop-1 as [k, *shape]: targets materialised and scaled per
            coordinate, then the given extra columns (one pass forms rows' gradients once)."""
            parts = []
            if start < n_targets:
                chunk = [use.rows(start, min(stop, n_targets)) for use in target]
                parts.append(scale.apply_per_coordinate_(materialise_sum(chunk, shape)))
            if stop > n_targets:
                parts.append(given[max(start, n_targets) - n_targets : stop - n_targets])
            return parts[0] if len(parts) == 1 else torch.cat(parts)

        values = _materialised_values(train, n_targets + n_extra, columns, shape, strategy)
        values[:, :n_targets] *= scale.scalar
        return values
    if extra is None:
        return first
    given = extra.to(train[0].tensor.dtype)
    more = _materialised_values(train, n_extra, lambda a, b: given[a:b], shape, strategy)
    return torch.cat([first, more], dim=1)


def _gram_chosen(
    train: list[Use],
    target: list[Use],
    scale: Scale,
    n_extra: int,
    numel: int,
    strategy: Strategy,
) -> bool:
    """Whether the first-order columns are formed by Gram (a) rather than materialised."""
    factored = all(isinstance(use, FactoredUse) for use in train + target)
    possible = factored and scale.full is None
    if strategy is Strategy.GRAM and factored and not possible:
        raise AttributionInputError(
            "Strategy.GRAM cannot apply Adam's exact elementwise preconditioner to a matrix; "
            "use Preconditioner.FACTORED to keep Gram, or Strategy.AUTO"
        )
    if strategy is not Strategy.AUTO or not possible:
        return possible and strategy is Strategy.GRAM
    n_targets = target[0].n_rows
    # Materialising adds the target matrices and V more columns to every training use.
    added = sum(materialise_cost(use) for use in target) + sum(
        _use_cost(use, n_targets + n_extra, numel) - _use_cost(use, n_extra, numel) for use in train
    )
    return gram_cost(train, target) <= added


def _use_cost(use: Use, columns: int, numel: int) -> float:
    """Cheaper of (b) and (c) for one training use against `columns` materialised matrices."""
    if columns == 0:
        return 0.0
    return min(per_sample_cost(use, columns, numel), matrix_dot_cost(use, columns, numel))


def _chunks(n_rows: int, per_row: int) -> list[tuple[int, int]]:
    """Row ranges whose largest intermediate stays under CHUNK_ELEMENTS."""
    step = max(1, CHUNK_ELEMENTS // max(1, per_row))
    return [(start, min(n_rows, start + step)) for start in range(0, n_rows, step)]


def _gram_values(train: list[Use], target: list[Use], scale: Scale) -> torch.Tensor:
    """Strategy (a): sum over use pairs of (left Gram (.) right Gram), reduced per row/target."""
    scaled = [
        FactoredUse(
            use.left if scale.rows is None else use.left.scaled(scale.rows),
            use.right if scale.cols is None else use.right.scaled(scale.cols),
        )
        for use in target
    ]
    n_rows, n_targets = train[0].n_rows, target[0].n_rows
    out = torch.zeros(n_rows, n_targets, dtype=torch.float64, device=train[0].tensor.device)
    for theirs in scaled:
        dtype = theirs.tensor.dtype
        per_row = train[0].n_tokens * theirs.n_rows * theirs.n_tokens
        for start, stop in _chunks(n_rows, per_row):
            for mine in train:
                part = mine.rows(start, stop)
                if isinstance(part.left, Routed):
                    out[start:stop] += _routed_gram_values(part, theirs).double()
                    continue
                pairs = token_gram(part.left, theirs.left, dtype) * token_gram(
                    part.right, theirs.right, dtype
                )  # (b*T) x (V*T')
                pairs = pairs.view(stop - start, part.n_tokens, n_targets, theirs.n_tokens)
                out[start:stop] += pairs.sum(dim=(1, 3)).double()
    return out * scale.scalar


def _routed_gram_values(mine: FactoredUse, theirs: FactoredUse) -> torch.Tensor:
    """Strategy (a) for routed uses, [b, V]: slots on different experts are orthogonal, so
    only each expert's own slot pairs are formed, (left . left)(right . right), about 1/E of
    all pairs, and summed per training row and target."""
    n_mine, n_theirs = mine.n_rows, theirs.n_rows
    k, c = mine.left.block, mine.right.width
    a_e, b_e = mine.left.index.reshape(-1), theirs.left.index.reshape(-1)
    a_row = torch.arange(n_mine, device=a_e.device).repeat_interleave(mine.n_tokens)
    b_row = torch.arange(n_theirs, device=b_e.device).repeat_interleave(theirs.n_tokens)
    a_left, a_right = mine.left.x.reshape(-1, k), mine.right.x.reshape(-1, c)
    b_left, b_right = theirs.left.x.reshape(-1, k), theirs.right.x.reshape(-1, c)
    out = mine.tensor.new_zeros(n_mine, n_theirs)
    for e in a_e.unique().tolist():
        a, b = (a_e == e).nonzero().squeeze(1), (b_e == e).nonzero().squeeze(1)
        if b.numel() == 0:
            continue
        pairs = (a_left[a] @ b_left[b].T) * (a_right[a] @ b_right[b].T)  # S_a x S_b
        per_target = pairs.new_zeros(pairs.shape[0], n_theirs).index_add_(1, b_row[b], pairs)
        out.index_add_(0, a_row[a], per_target)
    return out


def _materialised_values(
    train: list[Use],
    columns: int,
    matrices: Callable[[int, int], torch.Tensor],
    shape: torch.Size,
    strategy: Strategy,
) -> torch.Tensor:
    """Strategies (b) and (c) against materialised column matrices, [B, columns] float64.

    `matrices(start, stop)` forms columns start..stop-1 as [k, *shape]; they are asked for in
    chunks of at most MATRIX_ELEMENTS (column_chunks), so memory is bounded for any number of
    targets. A row's gradient is a sum over uses, and so is its dot with a matrix: each use
    takes its own cheaper way (a tied embedding's one-hot use a gather, its dense use per
    sample). Per-sample row gradients are formed once and kept across column chunks when
    they fit ROW_GRADIENT_ELEMENTS, else formed again per chunk (and costed so).
    """
    n_rows, numel = train[0].n_rows, shape.numel()
    chunks = column_chunks(columns, numel)
    kept = n_rows * numel <= ROW_GRADIENT_ELEMENTS
    if strategy in (Strategy.PER_SAMPLE, Strategy.TARGET):
        per_sample = [use for use in train if strategy is Strategy.PER_SAMPLE]
    else:
        per_sample = [
            use
            for use in train
            if per_sample_cost(use, columns, numel, 1 if kept else len(chunks))
            <= matrix_dot_cost(use, columns, numel)
        ]
    others = [use for use in train if not any(use is chosen for chosen in per_sample)]
    grads = None
    if per_sample and kept:
        grads = materialise_sum(per_sample, shape).reshape(n_rows, -1)
    device = train[0].tensor.device
    out = torch.zeros(n_rows, columns, dtype=torch.float64, device=device)
    for first, last in chunks:
        block = matrices(first, last)  # k x *shape
        flat = block.reshape(last - first, -1)
        if grads is not None:
            out[:, first:last] = (grads @ flat.T).double()
        elif per_sample:
            for start, stop in _chunks(n_rows, numel):
                part = materialise_sum([u.rows(start, stop) for u in per_sample], shape)
                out[start:stop, first:last] = (part.reshape(stop - start, -1) @ flat.T).double()
        for use in others:
            factored = isinstance(use, FactoredUse)
            width = use.n_tokens * (last - first) * max(shape) if factored else 1
            for start, stop in _chunks(n_rows, width):
                dots = dot_with_matrices(use.rows(start, stop), block)
                out[start:stop, first:last] += dots.double()
    return out


def column_chunks(columns: int, numel: int) -> list[tuple[int, int]]:
    """Column ranges whose materialised matrices [k, numel] stay under MATRIX_ELEMENTS."""
    step = max(1, MATRIX_ELEMENTS // max(1, numel))
    return [(start, min(columns, start + step)) for start in range(0, columns, step)]


def matrix_values(uses: list[Use], matrices: torch.Tensor, shape: torch.Size) -> torch.Tensor:
    """float64 [N, C]: every row's gradient (summed over `uses`) dotted with each of the given
    matrices [C, *shape], each use by its cheaper way (per-sample or per-token)."""
    columns = matrices.shape[0]
    return _materialised_values(uses, columns, lambda a, b: matrices[a:b], shape, Strategy.AUTO)
