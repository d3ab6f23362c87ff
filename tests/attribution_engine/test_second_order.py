"""Second-order values (DESIGN 2.2) against the oracle, exact Shapley, and the Shapley axioms."""

import pytest
import torch
from checks import fresh
from oracle import (
    exact_shapley,
    first_order,
    full_hessian,
    interaction,
    per_sample_grads,
    quadratic_utility,
    rel_err,
    target_grads,
)
from oracle_cases import STRATEGIES, oracle_case
from tiny_models import FAMILIES, gpt2_micro, make_batch, make_targets, with_row

from attribution_engine import step_values

# Large enough that the interaction term is a sizeable part of each value (checked below).
LR = 0.5


def case(family: str, n_targets: int):
    """Model (a fresh copy), batch, targets and the oracle's second-order values [B, V]."""
    return oracle_case(family, n_targets, order=2, lr=LR, model_seed=4, rows=5, seed=31)


@pytest.mark.parametrize("strategy", STRATEGIES, ids=lambda s: s.name)
@pytest.mark.parametrize("n_targets", [1, 3])
@pytest.mark.parametrize("family", FAMILIES)
def test_second_order_matches_oracle(family, n_targets, strategy):
    """Whole value and the interaction term on its own (order 2 minus order 1), each to 1e-6."""
    model, batch, targets, expected = case(family, n_targets)
    v2 = step_values(model, batch, targets, lr=LR, order=2, strategy=strategy)
    assert v2.dtype == torch.float64 and v2.shape == (5, n_targets)
    assert rel_err(v2, expected) <= 1e-6
    v1 = step_values(model, batch, targets, lr=LR, order=1, strategy=strategy)
    assert rel_err(v2 - v1, interaction(model, batch, targets, LR)) <= 1e-6


def test_equals_exact_shapley_of_quadratic_utility():
    """On n = 8 rows, order-2 values are the exact Shapley values of
    U(S) = lr g_v.G_S - (lr^2/2) G_S^T H_v G_S, by enumerating all 256 subsets with the explicit
    Hessian (no Hessian-vector product involved)."""
    model, lr, n = gpt2_micro(seed=1), 1.0, 8
    batch = make_batch(n, seed=41, t_max=8, vocab=10)
    targets = make_targets(2, seed=42, vocab=10)
    g_train, g_v = per_sample_grads(model, batch), target_grads(model, targets)
    hessians = [full_hessian(model, targets, v) for v in (0, 1)]  # explicit [P, P] each
    games = [quadratic_utility(lr, g_train, g_v[v], hessians[v]) for v in (0, 1)]
    phi = torch.stack([exact_shapley(u, n) for u in games], dim=1)  # [B, V]
    assert rel_err(first_order(lr, g_train, g_v), phi) > 1e-2, "interaction term too small"
    values = step_values(model, batch, targets, lr=lr, order=2)
    assert rel_err(values, phi) <= 1e-10


@pytest.mark.parametrize("order", [1, 2])
@pytest.mark.parametrize("family", ["gpt2", "neox"])
def test_symmetry_identical_rows_get_identical_values(family, order):
    """Two identical rows in one batch are symmetric players: equal values."""
    model, batch, targets, _ = case(family, 3)
    dup = with_row(batch, src=1, dst=4)
    values = step_values(fresh(model), dup, targets, lr=LR, order=order)
    assert float(values[1].abs().min()) > 0
    assert float((values[1] - values[4]).abs().max()) <= 1e-12 * float(values.abs().max())


@pytest.mark.parametrize("order", [1, 2])
@pytest.mark.parametrize("family", ["gpt2", "llama"])
def test_null_player_gets_exactly_zero(family, order):
    """A row whose labels are all -100 contributes nothing to the step: its value is exactly 0,
    and every other row's value is the same as without it."""
    model, batch, targets, _ = case(family, 3)
    with_null = {k: v.clone() for k, v in batch.items()}
    with_null["labels"][2] = -100
    without = {k: torch.cat([v[:2], v[3:]]) for k, v in with_null.items()}
    values = step_values(fresh(model), with_null, targets, lr=LR, order=order)
    assert torch.all(values[2] == 0), values[2]
    rest = step_values(fresh(model), without, targets, lr=LR, order=order)
    assert rel_err(torch.cat([values[:2], values[3:]]), rest) <= 1e-9


@pytest.mark.parametrize("order", [1, 2])
@pytest.mark.parametrize("family", ["gpt2", "lora_llama"])
def test_linearity_over_targets(family, order):
    """Targets are separate games: scoring [a, b, c] together equals scoring each alone."""
    model, batch, targets, _ = case(family, 3)
    together = step_values(fresh(model), batch, targets, lr=LR, order=order)
    singles = [{k: t[v : v + 1] for k, t in targets.items()} for v in range(3)]
    alone = [step_values(fresh(model), batch, one, lr=LR, order=order) for one in singles]
    assert rel_err(together, torch.cat(alone, dim=1)) <= 1e-9
