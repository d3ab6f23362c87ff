"""The shared oracle harness of the step_values tests: one case per (family, number of targets),
its oracle values computed once, handed out on a fresh copy of the model."""

from __future__ import annotations

import functools

from checks import fresh
from oracle import first_order, per_sample_grads, second_order, target_grads
from tiny_models import FAMILIES, make_batch, make_targets

from attribution_engine import Strategy

# Every strategy step_values offers, AUTO included: each must match the oracle.
STRATEGIES = [Strategy.GRAM, Strategy.TARGET, Strategy.PER_SAMPLE, Strategy.AUTO]


def oracle_case(
    family: str, n_targets: int, *, order: int, lr: float, model_seed: int, rows: int, seed: int
):
    """A fresh copy of the tiny `family` model (seed `model_seed`), a batch of `rows` rows (seed
    `seed`), `n_targets` targets (seed `seed + 1`) and the oracle's values of `order` [B, V]."""
    model, batch, targets, expected = _case(family, n_targets, order, lr, model_seed, rows, seed)
    return fresh(model), batch, targets, expected


@functools.cache
def _case(family, n_targets, order, lr, model_seed, rows, seed):
    model = FAMILIES[family](seed=model_seed)
    batch, targets = make_batch(rows, seed=seed), make_targets(n_targets, seed=seed + 1)
    if order == 1:
        expected = first_order(lr, per_sample_grads(model, batch), target_grads(model, targets))
    else:
        expected = second_order(model, batch, targets, lr)
    return model, batch, targets, expected
