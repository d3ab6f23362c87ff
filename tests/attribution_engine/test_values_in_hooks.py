"""SGD-proxy first-order values formed inside the training backward (issue 20): each call is
scored as its output gradient arrives and released at once, with the values of the path that
keeps every call to the end of the backward (`_values`, which order 2 and Adam still take)."""

import pytest
import torch
from checks import assert_no_hooks, fresh, max_weight_diff
from oracle import first_order, n_label_tokens, per_sample_grads, rel_err, target_grads
from tiny_models import FAMILIES, make_batch, make_targets
from torch import nn

import attribution_engine.step as step_module
from attribution_engine import Accounting, AttributionConfig, InRunAttributor, step_values
from attribution_engine.capture import Capture
from attribution_engine.errors import UnsupportedModuleError
from attribution_engine.ghost import register
from attribution_engine.ghost.linear import linear_uses

LR = 0.1


def _sgd_proxy(order: int, max_grad_norm: float | None = None) -> AttributionConfig:
    return AttributionConfig(
        order=order, accounting=Accounting.SGD_PROXY, max_grad_norm=max_grad_norm
    )


@pytest.mark.parametrize("family", ["gpt2", "llama", "neox"])
def test_values_in_hooks_equal_the_kept_calls_path(family):
    """Two AdamW steps of two micro-batches with clipping: order 1 (scored in the hooks) equals
    the first-order part of order 2 (calls kept, scored after the backward) to 1e-12, and the
    oracle; GPT-2's tied embedding is scored one training use at a time against all target uses."""
    model = FAMILIES[family](seed=5)
    other = fresh(model)
    targets = make_targets(3, seed=51)
    in_hooks = InRunAttributor(
        model, torch.optim.AdamW(model.parameters(), lr=1e-2), targets, _sgd_proxy(1, 0.05)
    )
    kept = InRunAttributor(
        other, torch.optim.AdamW(other.parameters(), lr=1e-2), targets, _sgd_proxy(2, 0.05)
    )
    with in_hooks, kept:
        for step in range(2):
            micro = [make_batch(3, seed=52 + step, t_max=10), make_batch(2, seed=60 + step)]
            g_v = target_grads(model, targets)
            g_train = torch.cat([per_sample_grads(model, m, normaliser=_n(micro)) for m in micro])
            mine, theirs = in_hooks.step(micro), kept.step(micro)
            assert mine.clip_factor < 1 and mine.clip_factor == theirs.clip_factor
            first = theirs.values - theirs.second_order
            assert rel_err(mine.values, first) <= 1e-12, f"step {step}"
            expected = first_order(1e-2 * mine.clip_factor, g_train, g_v)
            assert rel_err(mine.values, expected) <= 1e-9, f"step {step}"
            assert rel_err(mine.predicted_drop, theirs.predicted_drop) <= 1e-12
            assert max_weight_diff(model, other) == 0.0


def _n(micro) -> int:
    return sum(n_label_tokens(m) for m in micro)


def test_training_calls_are_released_during_the_backward(monkeypatch):
    """When a call's gradient arrives, every training call scored before it holds no output
    gradient and no input any more; after the step none does. Target calls are kept (the
    efficiency check reads them after the step) and never pass through the hook's scoring."""
    model, batch, targets = FAMILIES["gpt2"](seed=6), make_batch(4, seed=61), make_targets(2, 62)
    arrived = []
    original = Capture._arrived

    def watched(self, call, on_grad, grad):
        for earlier in arrived:
            assert earlier.grad is None and earlier.inputs == (), f"{earlier.name} still held"
        arrived.append(call)
        original(self, call, on_grad, grad)
        assert call.grad is None and call.inputs == () and call.output is None

    monkeypatch.setattr(Capture, "_arrived", watched)
    opt = torch.optim.SGD(model.parameters(), lr=LR)
    expected = step_values(model, batch, targets, lr=LR)  # the kept-calls path, no hooks' scoring
    assert not arrived
    with InRunAttributor(model, opt, targets, _sgd_proxy(1)) as att:
        result = att.step(batch)
    names = [call.name for call in arrived]
    assert names[0] == "lm_head" and names[-1] in ("transformer.wte", "transformer.wpe")
    assert len(names) == len(set(names)) == len(att._capture.hooked)
    assert rel_err(result.values, expected) <= 1e-12


class _RowPicky(nn.Linear):
    """A Linear whose rule reads only calls on 2 rows (the targets), so that it fails on the
    training rows' call, inside the training backward."""


@register(_RowPicky, params=("weight", "bias"))
def _row_picky_uses(module, inputs, grad):
    if grad.shape[0] != 2:
        raise IndexError(f"expected 2 rows, got {grad.shape[0]}")
    return linear_uses(module, inputs, grad)


def test_a_rule_failing_inside_the_backward_is_refused_by_name_and_applies_nothing():
    model = FAMILIES["llama"](seed=7)
    old = model.model.layers[0].mlp.down_proj
    picky = _RowPicky(old.in_features, old.out_features, bias=False, dtype=old.weight.dtype)
    picky.weight = old.weight
    model.model.layers[0].mlp.down_proj = picky
    before, opt = fresh(model), torch.optim.SGD(model.parameters(), lr=LR)
    att = InRunAttributor(model, opt, make_targets(2, seed=71), _sgd_proxy(1))
    refused = pytest.raises(UnsupportedModuleError, match=r"layers\.0\.mlp\.down_proj.*2 rows")
    with att, refused:
        att.step(make_batch(4, seed=72))
    assert_no_hooks(model, opt)
    assert max_weight_diff(model, before) == 0.0
    assert all(p.grad is None for p in model.parameters())


def test_an_error_while_scoring_in_the_backward_applies_nothing_and_the_next_step_runs(
    monkeypatch,
):
    """An error raised by the scoring inside the backward leaves no step, no gradients and no
    optimizer state; the attributor's next step gives the values of a fresh one."""
    model, targets = FAMILIES["gpt2"](seed=8), make_targets(2, seed=81)
    before, opt = fresh(model), torch.optim.AdamW(model.parameters(), lr=1e-2)
    batch = make_batch(4, seed=82)
    expected = first_order(1e-2, per_sample_grads(model, batch), target_grads(model, targets))
    real = step_module.parameter_values
    calls = {"n": 0}

    def failing(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("injected failure")
        return real(*args, **kwargs)

    with InRunAttributor(model, opt, targets, _sgd_proxy(1)) as att:
        monkeypatch.setattr(step_module, "parameter_values", failing)
        with pytest.raises(RuntimeError, match="injected failure"):
            att.step(batch)
        assert max_weight_diff(model, before) == 0.0 and not opt.state
        assert all(p.grad is None for p in model.parameters())
        monkeypatch.setattr(step_module, "parameter_values", real)
        result = att.step(batch)
    assert rel_err(result.values, expected) <= 1e-9
    assert_no_hooks(model, opt)
