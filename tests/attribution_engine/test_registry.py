"""The registry's guarantee (issue 16 item 1): a rule applies only to the class it was written for
(or a subclass keeping that class's forward); anything else is refused by name before any step,
leaving the model and the optimizer untouched. A parameter is scored once, where it is applied."""

import importlib
import inspect
import re

import pytest
import torch
import zoo
from checks import assert_no_hooks, assert_unchanged, seed_grads, snapshot
from oracle import first_order, per_sample_grads, rel_err, target_grads
from tiny_models import llama, make_batch, make_targets
from torch import nn

from attribution_engine import InRunAttributor, step_values
from attribution_engine.errors import UnsupportedModuleError
from attribution_engine.ghost import rule_for
from attribution_engine.ghost.linear import LINEAR_EQUIVALENTS

LR = 0.1


class KeepsForward(nn.Linear):
    """A subclass that adds nothing to forward: the Linear rule is exact for it."""


class ScaledForward(nn.Linear):
    """A subclass whose forward computes something else than nn.Linear's."""

    def forward(self, x):
        return super().forward(x) * 2.0


class UsedTwice(nn.Module):
    """y = mlp(x) + extra(x) + F.linear(2x, extra.weight): extra's weight is also used outside
    its module, so its module's calls do not account for its whole gradient."""

    def __init__(self, mlp: nn.Module):
        super().__init__()
        self.mlp, self.extra = mlp, nn.Linear(16, 16, bias=False, dtype=torch.float64)

    def forward(self, x):
        return self.mlp(x) + self.extra(x) + nn.functional.linear(2 * x, self.extra.weight)


class ChangedInPlace(nn.Module):
    """Scales the MLP's output (its down_proj call's output) in place, as CTRL does."""

    def __init__(self, mlp: nn.Module):
        super().__init__()
        self.mlp = mlp

    def forward(self, x):
        return self.mlp(x).mul_(1.5)


class SideCall(nn.Module):
    """y = mlp(x) + x side^T with side = extra(identity): a call on a [16, 16] matrix, not on
    rows (as peft's DoRA builds its weight norm). Used detached, it never reaches the loss."""

    def __init__(self, mlp: nn.Module, detached: bool):
        super().__init__()
        self.mlp, self.detached = mlp, detached
        self.extra = nn.Linear(16, 16, bias=False, dtype=torch.float64)

    def forward(self, x):
        side = self.extra(torch.eye(16, dtype=x.dtype))
        return self.mlp(x) + x @ (side.detach() if self.detached else side).T


class Mixer(nn.Module):
    """A module type no rule is registered for: silu(x W)."""

    def __init__(self, d: int):
        super().__init__()
        self.mix = nn.Parameter(torch.eye(d, dtype=torch.float64))

    def forward(self, x):
        return nn.functional.silu(x @ self.mix)


def _lm_head_as(cls: type[nn.Linear]):
    model = llama(seed=3)
    head = cls(16, model.lm_head.out_features, bias=False, dtype=torch.float64)
    head.weight = model.lm_head.weight
    model.lm_head = head
    return model


def _case(model):
    batch, targets = make_batch(4, seed=31), make_targets(2, seed=32)
    expected = first_order(LR, per_sample_grads(model, batch), target_grads(model, targets))
    return batch, targets, expected


def _assert_refused_before_any_step(model, pattern: list[str]):
    """step_values and InRunAttributor.step both refuse; weights, grads, hooks and the
    optimizer's state are as before (the optimizer has state from a plain step)."""
    batch, targets = make_batch(4, seed=41), make_targets(2, seed=42)
    seed_grads(model)
    before = snapshot(model)
    with pytest.raises(UnsupportedModuleError) as info:
        step_values(model, batch, targets, lr=LR)
    for words in pattern:
        assert re.search(words, str(info.value)), f"{words!r} not in: {info.value}"
    assert_unchanged(model, before)

    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model.zero_grad(set_to_none=True)
    model(input_ids=batch["input_ids"]).logits.sum().backward()
    optimizer.step()  # a plain step: the optimizer now has state to keep
    model.zero_grad(set_to_none=True)
    weights = {n: p.detach().clone() for n, p in model.named_parameters()}
    state = {k: {n: v.clone() for n, v in s.items()} for k, s in optimizer.state.items()}
    with pytest.raises(UnsupportedModuleError), InRunAttributor(model, optimizer, targets) as att:
        att.step(batch)
    assert_no_hooks(model, optimizer)
    for name, p in model.named_parameters():
        assert torch.equal(p, weights[name]), f"{name} moved"
        assert p.grad is None, f"{name} kept a gradient"
    for key, saved in state.items():
        for name, value in saved.items():
            assert torch.equal(optimizer.state[key][name], value), f"optimizer {name} changed"


def test_subclass_keeping_forward_is_scored_exactly():
    model = _lm_head_as(KeepsForward)
    assert rule_for(model.lm_head) is rule_for(nn.Linear(2, 2))
    batch, targets, expected = _case(model)
    assert rel_err(step_values(model, batch, targets, lr=LR), expected) <= 1e-6


@pytest.mark.parametrize("name", LINEAR_EQUIVALENTS)
def test_linear_equivalent_forward_is_what_the_rule_assumes(name):
    module, _, cls = name.rpartition(".")
    source = inspect.getsource(getattr(importlib.import_module(module), cls).forward)
    assert "input @ self.weight.T" in source and "hidden_states + self.bias" in source, source


def test_subclass_overriding_forward_is_refused_by_name():
    model = _lm_head_as(ScaledForward)
    assert rule_for(model.lm_head) is None
    _assert_refused_before_any_step(
        model,
        [
            r"module 'lm_head'",
            r"ScaledForward",
            r"overrides forward",
            r"requires_grad_\(False\)",
            r"attribution_engine\.ghost\.register",
        ],
    )


def test_parameter_used_outside_its_module_is_refused_before_any_step():
    model = llama(seed=4)
    model.model.layers[0].mlp = UsedTwice(model.model.layers[0].mlp)
    _assert_refused_before_any_step(
        model, [r"model\.layers\.0\.mlp\.extra\.weight", r"functionally", r"requires_grad_"]
    )


def test_call_not_on_rows_is_refused_when_its_result_reaches_the_loss():
    model = llama(seed=4)
    model.model.layers[0].mlp = SideCall(model.model.layers[0].mlp, detached=False)
    _assert_refused_before_any_step(
        model, [r"model\.layers\.0\.mlp\.extra", r"leading dimension 16", r"requires_grad"]
    )


def test_call_not_on_rows_used_only_detached_is_not_a_use():
    model = llama(seed=4)
    model.model.layers[0].mlp = SideCall(model.model.layers[0].mlp, detached=True)
    batch, targets, expected = _case(model)
    assert rel_err(step_values(model, batch, targets, lr=LR), expected) <= 1e-9


def test_unknown_trainable_module_is_refused_before_any_step():
    model = llama(seed=5)
    model.model.layers[1].mlp.act_fn = Mixer(32)
    _assert_refused_before_any_step(
        model, [r"model\.layers\.1\.mlp\.act_fn", r"Mixer", r"no ghost rule is registered"]
    )


def test_output_changed_in_place_is_scored_exactly():
    """The hook sees the value the module produced; the target side differentiates through it."""
    model = llama(seed=6)
    for layer in model.model.layers:
        layer.mlp = ChangedInPlace(layer.mlp)
    batch, targets, expected = _case(model)
    for order in (1, 2):
        values = step_values(model, batch, targets, lr=LR, order=order)
        if order == 1:
            assert rel_err(values, expected) <= 1e-6


class GatedMLP(nn.Module):
    """Owns a vector used inside its own arithmetic, next to a child Linear: not a norm."""

    def __init__(self, mlp: nn.Module):
        super().__init__()
        self.mlp, self.gate = mlp, nn.Parameter(torch.ones(16, dtype=torch.float64))

    def forward(self, x):
        return self.mlp(x) * self.gate


def test_module_owning_vectors_beside_children_is_refused_by_name():
    """The per-feature rule takes leaves only: a module with parameterised children that owns a
    vector (an attention's lambdas or sinks, a gate) is refused unless a rule names its class."""
    model = llama(seed=8)
    model.model.layers[0].mlp = GatedMLP(model.model.layers[0].mlp)
    batch, targets = make_batch(3, seed=51), make_targets(1, seed=52)
    with pytest.raises(UnsupportedModuleError, match=r"layers\.0\.mlp'.*GatedMLP.*\['gate'\]"):
        step_values(model, batch, targets, lr=LR)


@pytest.mark.parametrize("model_type", ["diffllama", "gpt_oss"])
def test_attention_owning_parameters_is_scored_by_replay(model_type):
    """DiffLlama's lambdas and GPT-OSS's sinks: the replay rule (ghost/replay.py) is exact."""
    outcome = zoo.check(model_type, orders=(1,))
    assert outcome.status == "pass", outcome.detail
