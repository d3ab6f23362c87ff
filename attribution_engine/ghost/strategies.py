"""Per-row dot products of one parameter's gradient with the target columns, by strategy.

value[i, v] = <G_i, scale (.) G_v> for the first-order columns (G_v the target's gradient) and
<G_i, extra[w]> for columns given already materialised (the second-order vectors).
Dimension legend: B training rows, T tokens, V targets, T' target tokens, C columns.
"""

from dataclasses import dataclass

import torch

from attribution_engine.config import Strategy
from attribution_engine.errors import AttributionInputError
from attribution_engine.ghost.costs import gram_cost, per_sample_cost, target_cost
from attribution_engine.ghost.factors import token_gram
from attribution_engine.ghost.uses import (
    FactoredUse,
    Use,
    dot_with_matrices,
    materialise,
)

# Elements of the largest intermediate a chunk of training rows may create (64 MiB in fp32).
CHUNK_ELEMENTS = 1 << 24


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
        """Scale materialised matrices [C, *shape]."""
        out = matrices * self.scalar
        if self.full is not None:
            return out * self.full
        frame = out.reshape(out.shape[0], out.shape[1], -1)  # C x r x c (c = 1 for a vector)
        if self.rows is not None:
            frame = frame * self.rows.reshape(1, -1, 1)
        if self.cols is not None:
            frame = frame * self.cols.reshape(1, 1, -1)
        return frame.reshape(matrices.shape)


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
    numel = shape.numel()
    n_extra = 0 if extra is None else extra.shape[0]
    if not target:
        zeros = torch.zeros(train[0].n_rows, n_targets, dtype=torch.float64)
        if extra is None:
            return zeros
        how = min(
            (Strategy.PER_SAMPLE, Strategy.TARGET),
            key=lambda how: _materialised_cost(how, train, [], n_extra, numel),
        )
        return torch.cat([zeros, _materialised_values(train, extra, shape, how)], dim=1)
    first, rest = _plan(train, target, scale, numel, n_targets, n_extra, strategy)
    if first is Strategy.GRAM:
        values = _gram_values(train, target, scale)
        if extra is None:
            return values
        return torch.cat([values, _materialised_values(train, extra, shape, rest)], dim=1)
    matrices = scale.apply(sum(materialise(use, shape, use.tensor.dtype) for use in target))
    if extra is not None:
        matrices = torch.cat([matrices, extra.to(matrices.dtype)])
    return _materialised_values(train, matrices, shape, first)


def _plan(
    train: list[Use],
    target: list[Use],
    scale: Scale,
    numel: int,
    n_targets: int,
    n_extra: int,
    strategy: Strategy,
) -> tuple[Strategy, Strategy]:
    """(how to form the first-order columns, how to form the extra columns)."""
    factored = all(isinstance(use, FactoredUse) for use in train + target)
    gram_possible = factored and scale.full is None
    if strategy is Strategy.GRAM and factored and not gram_possible:
        raise AttributionInputError(
            "Strategy.GRAM cannot apply Adam's exact elementwise preconditioner to a matrix; "
            "use Preconditioner.FACTORED to keep Gram, or Strategy.AUTO"
        )
    materialised = min(
        (Strategy.PER_SAMPLE, Strategy.TARGET),
        key=lambda how: _materialised_cost(how, train, target, n_targets + n_extra, numel),
    )
    extra_only = min(
        (Strategy.PER_SAMPLE, Strategy.TARGET),
        key=lambda how: _materialised_cost(how, train, [], n_extra, numel),
    )
    if strategy is Strategy.GRAM:
        return (Strategy.GRAM if gram_possible else materialised), extra_only
    if strategy is not Strategy.AUTO:
        return strategy, strategy
    if not gram_possible:
        return materialised, materialised
    gram_total = gram_cost(train, target)
    if n_extra:
        gram_total += _materialised_cost(extra_only, train, [], n_extra, numel)
    all_total = _materialised_cost(materialised, train, target, n_targets + n_extra, numel)
    return (Strategy.GRAM, extra_only) if gram_total <= all_total else (materialised, materialised)


def _materialised_cost(
    how: Strategy, train: list[Use], target: list[Use], columns: int, numel: int
) -> float:
    if how is Strategy.PER_SAMPLE:
        return per_sample_cost(train, target, columns, numel)
    return target_cost(train, target, columns, numel)


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
                pairs = token_gram(part.left, theirs.left, dtype) * token_gram(
                    part.right, theirs.right, dtype
                )  # (b*T) x (V*T')
                pairs = pairs.view(stop - start, part.n_tokens, n_targets, theirs.n_tokens)
                out[start:stop] += pairs.sum(dim=(1, 3)).double()
    return out * scale.scalar


def _materialised_values(
    train: list[Use], matrices: torch.Tensor, shape: torch.Size, how: Strategy
) -> torch.Tensor:
    """Strategies (b) and (c) against materialised column matrices [C, *shape]."""
    n_rows, columns = train[0].n_rows, matrices.shape[0]
    out = torch.zeros(n_rows, columns, dtype=torch.float64, device=matrices.device)
    if how is Strategy.PER_SAMPLE:
        flat = matrices.reshape(columns, -1)
        for start, stop in _chunks(n_rows, shape.numel()):
            grads = sum(materialise(use.rows(start, stop), shape, matrices.dtype) for use in train)
            out[start:stop] = (grads.reshape(stop - start, -1) @ flat.T).double()
        return out
    for use in train:
        width = use.n_tokens * columns * max(shape) if isinstance(use, FactoredUse) else 1
        for start, stop in _chunks(n_rows, width):
            out[start:stop] += dot_with_matrices(use.rows(start, stop), matrices).double()
    return out
