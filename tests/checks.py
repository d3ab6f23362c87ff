"""Assertions on model state shared by the tests: weights, .grad, mode and hooks untouched."""

from __future__ import annotations

import copy

import torch
from torch import nn


def seed_grads(model: nn.Module, seed: int = 0) -> None:
    """Give every other trainable parameter a random .grad and leave the rest at None."""
    g = torch.Generator().manual_seed(seed)
    trainable = [p for p in model.parameters() if p.requires_grad]
    for k, p in enumerate(trainable):
        p.grad = torch.randn(p.shape, generator=g, dtype=p.dtype) if k % 2 == 0 else None


def snapshot(model: nn.Module) -> dict:
    """Everything a scoring call must leave as it found it."""
    return {
        "params": {n: p.detach().clone() for n, p in model.named_parameters()},
        "grads": {
            n: None if p.grad is None else p.grad.clone() for n, p in model.named_parameters()
        },
        "requires_grad": {n: p.requires_grad for n, p in model.named_parameters()},
        "training": {n: m.training for n, m in model.named_modules()},
        "hooks": hook_counts(model),
    }


def assert_unchanged(model: nn.Module, before: dict) -> None:
    """Fail naming the first parameter, grad, flag or hook that differs from `before`."""
    after = snapshot(model)
    for name, p in before["params"].items():
        new = after["params"][name]
        assert torch.allclose(p, new, rtol=0, atol=0, equal_nan=True), f"weight {name} changed"
    for name, g in before["grads"].items():
        new = after["grads"][name]
        if g is None:
            assert new is None, f".grad of {name} was None and is now set"
        else:
            assert new is not None, f".grad of {name} was set and is now None"
            assert torch.equal(g, new), f".grad of {name} changed"
    assert before["requires_grad"] == after["requires_grad"], "requires_grad flags changed"
    assert before["training"] == after["training"], "train/eval mode of some module changed"
    assert before["hooks"] == after["hooks"], f"hooks left behind: {after['hooks']}"


GLOBAL_HOOKS = (
    "_global_forward_hooks",
    "_global_forward_pre_hooks",
    "_global_backward_hooks",
    "_global_backward_pre_hooks",
)
MODULE_HOOKS = ("_forward_hooks", "_forward_pre_hooks", "_backward_hooks", "_backward_pre_hooks")


def hook_counts(model: nn.Module) -> dict[str, int]:
    """Number of hooks of every kind on modules and parameters, plus the global module hooks."""
    counts = {"global": 0, "module": 0, "param": 0}
    for name in GLOBAL_HOOKS:
        counts["global"] += len(getattr(torch.nn.modules.module, name, {}))
    for m in model.modules():
        for name in MODULE_HOOKS:
            counts["module"] += len(getattr(m, name, None) or {})
    for p in model.parameters():
        counts["param"] += len(p._backward_hooks or {})
        counts["param"] += len(getattr(p, "_post_accumulate_grad_hooks", None) or {})
    return counts


def assert_no_hooks(model: nn.Module, optimizer: torch.optim.Optimizer | None = None) -> None:
    """No forward/backward hook anywhere on the model (or optimizer step hooks)."""
    assert hook_counts(model) == {"global": 0, "module": 0, "param": 0}, hook_counts(model)
    for m in model.modules():
        assert not m._forward_hooks and not m._forward_pre_hooks and not m._backward_hooks, m
    if optimizer is not None:
        assert not optimizer._optimizer_step_pre_hooks, "optimizer pre-step hook left behind"
        assert not optimizer._optimizer_step_post_hooks, "optimizer post-step hook left behind"


def fresh(model: nn.Module) -> nn.Module:
    """An independent copy, so a test never shares a model another test might have touched."""
    return copy.deepcopy(model)


def max_weight_diff(a: nn.Module, b: nn.Module) -> float:
    """Largest absolute difference between corresponding parameters of two models."""
    pairs = zip(a.parameters(), b.parameters(), strict=True)
    with torch.no_grad():
        return max(float((p - q).abs().max()) for p, q in pairs)
