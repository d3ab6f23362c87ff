"""First-order step_values against per-sample autograd (DESIGN 2.2, 3): all families, strategies."""

import pytest
import torch
from checks import assert_unchanged, fresh, seed_grads, snapshot
from oracle import first_order, per_sample_grads, rel_err, target_grads, trainable
from oracle_cases import STRATEGIES, oracle_case
from tiny_models import FAMILIES, gpt2, make_batch, make_targets, pad_to

from attribution_engine import step_values

LR = 0.1


def case(family: str, n_targets: int):
    """Model (a fresh copy), batch, targets and the oracle's first-order values [B, V]."""
    return oracle_case(family, n_targets, order=1, lr=LR, model_seed=3, rows=6, seed=11)


@pytest.mark.parametrize("strategy", STRATEGIES, ids=lambda s: s.name)
@pytest.mark.parametrize("n_targets", [1, 3])
@pytest.mark.parametrize("family", FAMILIES)
def test_first_order_matches_oracle(family, n_targets, strategy):
    """Padding, -100 labels inside rows, variable lengths, V in {1, 3}."""
    model, batch, targets, expected = case(family, n_targets)
    values = step_values(model, batch, targets, lr=LR, order=1, strategy=strategy)
    assert values.dtype == torch.float64
    assert values.shape == (6, n_targets)
    assert rel_err(values, expected) <= 1e-6


@pytest.mark.parametrize("strategy", STRATEGIES, ids=lambda s: s.name)
def test_extra_padding_changes_nothing(strategy):
    """Pad columns (attention 0, label -100) added to batch and targets leave values unchanged."""
    model, batch, targets, expected = case("gpt2", 3)
    values = step_values(model, pad_to(batch, 14), pad_to(targets, 13), lr=LR, strategy=strategy)
    assert rel_err(values, expected) <= 1e-6


def _per_use_values(model, batch, targets):
    """Values of GPT-2 with wte and lm_head untied into copies: per-use gradients made visible.

    Returns the sum over uses of per-use dot products (cross terms dropped) and the values that
    count only one use of the shared weight (the other use overwritten).
    """
    untied = fresh(model)
    untied.config.tie_word_embeddings = False
    untied.lm_head.weight = torch.nn.Parameter(untied.transformer.wte.weight.detach().clone())
    named = trainable(untied)
    g, g_v = per_sample_grads(untied, batch), target_grads(untied, targets)  # [B, P'], [V, P']
    starts = torch.tensor([0] + [p.numel() for _, p in named]).cumsum(0).tolist()
    part = {n: slice(starts[k], starts[k + 1]) for k, (n, _) in enumerate(named)}
    wte, lm = part["transformer.wte.weight"], part["lm_head.weight"]
    no_cross = first_order(LR, g, g_v)
    only_wte = no_cross - first_order(LR, g[:, lm], g_v[:, lm])
    only_lm = no_cross - first_order(LR, g[:, wte], g_v[:, wte])
    # Oracle self-check: folding the two uses back into one weight gives the tied values.
    g[:, wte] += g[:, lm]
    g_v[:, wte] += g_v[:, lm]
    keep = torch.ones(g.shape[1], dtype=torch.bool)
    keep[lm] = False
    folded = first_order(LR, g[:, keep], g_v[:, keep])
    return folded, {"no_cross": no_cross, "only_wte": only_wte, "only_lm": only_lm}


@pytest.mark.parametrize("strategy", STRATEGIES, ids=lambda s: s.name)
def test_tied_embedding_includes_cross_terms(strategy):
    """<g_i, g_v> of the tied wte/lm_head weight is (a_i + b_i).(a_v + b_v), a and b its two uses.

    Dropping the cross terms a_i.b_v + b_i.a_v, or keeping only one use, is measurably wrong
    (DESIGN 3 pitfall); the engine must equal the full value.
    """
    model = gpt2(seed=5)
    batch, targets = make_batch(6, seed=21), make_targets(3, seed=22)
    full = first_order(LR, per_sample_grads(model, batch), target_grads(model, targets))
    folded, wrong = _per_use_values(model, batch, targets)
    assert rel_err(folded, full) < 1e-12
    values = step_values(model, batch, targets, lr=LR, strategy=strategy)
    assert rel_err(values, full) <= 1e-6
    for name, w in wrong.items():
        assert rel_err(w, full) > 0.01, f"{name} too close to the truth for this test to bite"
        assert rel_err(values, w) > 0.005, f"engine looks like {name}"


@pytest.mark.parametrize("order", [1, 2])
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("family", ["gpt2", "lora_llama"])
def test_step_values_leaves_model_untouched(family, training, order):
    """Weights, .grad (set or None), requires_grad, train/eval mode and hooks are as before."""
    model, batch, targets, expected = case(family, 3)
    model.train(training)
    seed_grads(model)
    before = snapshot(model)
    values = step_values(model, batch, targets, lr=LR, order=order)
    assert_unchanged(model, before)
    if order == 1:
        assert rel_err(values, expected) <= 1e-6
