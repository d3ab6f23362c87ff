"""The engine's values against Monte Carlo Shapley of the true one-step utility, tiny settings:
at a small learning rate the closed forms must rank rows as the exact game does."""

import pytest

from benchmarks.fidelity_mc import MCConfig, compare

TINY = MCConfig(documents=64, warm_steps=4, permutations=6, lrs=(1e-4, 1e-2))


@pytest.fixture(scope="module")
def lines(sotu_out):
    rows = compare(TINY, sotu_out)
    return {(accounting, lr, order): row for accounting, lr, _, order, *row in rows}


@pytest.mark.parametrize("accounting", ["sgd_proxy", "adam"])
def test_first_order_agrees_with_monte_carlo_at_small_lr(lines, accounting):
    spearman_all, worst_target, _, relative_rmse, standard_error = lines[(accounting, "0.0001", 1)]
    assert spearman_all >= 0.95
    assert worst_target >= 0.9
    assert relative_rmse < 0.1
    assert standard_error < 0.01  # the estimate itself is tight enough to judge by


@pytest.mark.parametrize("accounting", ["sgd_proxy", "adam"])
def test_second_order_is_closer_at_small_lr(lines, accounting):
    first, second = lines[(accounting, "0.0001", 1)], lines[(accounting, "0.0001", 2)]
    assert second[2] <= first[2]  # RMSE in nats


def test_agreement_falls_with_the_learning_rate(lines):
    small, large = lines[("adam", "0.0001", 1)], lines[("adam", "0.01", 1)]
    assert large[3] > small[3]  # relative RMSE grows with the step
