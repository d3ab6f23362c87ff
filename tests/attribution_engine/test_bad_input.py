"""Bad inputs raise the specific error with a message saying what was wrong, and change nothing."""

import re

import pytest
import torch
from checks import assert_no_hooks, assert_unchanged, fresh, max_weight_diff, seed_grads, snapshot
from oracle import first_order, per_sample_grads, rel_err, target_grads
from tiny_models import gpt2, llama, make_batch, make_targets
from torch import nn

from attribution_engine import InRunAttributor, step_values
from attribution_engine.errors import (
    AttributionInputError,
    NonFiniteError,
    UnsupportedModuleError,
)


def _clone(rows):
    return {k: v.clone() for k, v in rows.items()}


def _labels_short(b, t):
    b["labels"] = b["labels"][:, :-1]
    return b, t


def _mask_rows(b, t):
    b["attention_mask"] = b["attention_mask"][:-1]
    return b, t


def _targets_shape(b, t):
    t["input_ids"] = t["input_ids"][:, :-2]
    return b, t


def _empty_batch(b, t):
    return {k: v[:0] for k, v in b.items()}, t


def _target_all_ignored(b, t):
    t["labels"][2] = -100
    return b, t


def _target_only_first_label(b, t):  # position 0 is never predicted
    t["labels"][2, 1:] = -100
    return b, t


def _batch_all_ignored(b, t):
    b["labels"][:] = -100
    return b, t


def _missing_mask(b, t):
    del b["attention_mask"]
    return b, t


def _out_of_vocab(b, t):
    b["input_ids"][3, 2] = 1000
    return b, t


# name: (mutation of a good batch/targets, regexes the message must match, case-insensitive)
BAD_INPUTS = {
    "labels_shape": (_labels_short, [r"shape", r"labels"]),
    "mask_rows": (_mask_rows, [r"shape", r"attention_mask"]),
    "targets_shape": (_targets_shape, [r"shape", r"target"]),
    "empty_batch": (_empty_batch, [r"empty|no rows|0 rows"]),
    "target_all_ignored": (_target_all_ignored, [r"target", r"label", r"\b2\b"]),
    "target_only_first_label": (_target_only_first_label, [r"target", r"label", r"\b2\b"]),
    "batch_all_ignored": (_batch_all_ignored, [r"label", r"batch"]),
    "missing_mask": (_missing_mask, [r"attention_mask"]),
    "out_of_vocab": (_out_of_vocab, [r"vocab", r"\b3\b"]),
}


def _bad_case(name):
    model = gpt2(seed=16)
    batch, targets = make_batch(5, seed=151), make_targets(3, seed=152)
    mutate, words = BAD_INPUTS[name]
    batch, targets = mutate(_clone(batch), _clone(targets))
    return model, batch, targets, words


def _assert_says(err: Exception, words: list[str]) -> None:
    msg = str(err)
    for w in words:
        assert re.search(w, msg, re.IGNORECASE), f"message {msg!r} does not mention {w!r}"


@pytest.mark.parametrize("name", BAD_INPUTS)
def test_step_values_rejects_bad_input(name):
    """AttributionInputError (a ValueError) saying what was wrong; model state as before."""
    model, batch, targets, words = _bad_case(name)
    seed_grads(model)
    before = snapshot(model)
    with pytest.raises(AttributionInputError) as info:
        step_values(model, batch, targets, lr=0.1)
    _assert_says(info.value, words)
    assert isinstance(info.value, ValueError)
    assert_unchanged(model, before)


@pytest.mark.parametrize("name", BAD_INPUTS)
def test_attributor_rejects_bad_input(name):
    """Raised by the constructor (bad targets) or by step (bad batch); no hook left, no update."""
    model, batch, targets, words = _bad_case(name)
    before, opt = fresh(model), torch.optim.AdamW(model.parameters(), lr=1e-2)
    with pytest.raises(AttributionInputError) as info, InRunAttributor(model, opt, targets) as att:
        att.step(batch)
    _assert_says(info.value, words)
    assert_no_hooks(model, opt)
    assert max_weight_diff(model, before) == 0.0 and not opt.state


def test_order_must_be_1_or_2():
    model, batch, targets = gpt2(seed=16), make_batch(3, seed=153), make_targets(1, seed=154)
    with pytest.raises(ValueError, match="order"):
        step_values(model, batch, targets, lr=0.1, order=3)


class _Extra(nn.Module):
    """Wraps an MLP: y = mlp(x) + extra(x), where extra is a Conv2d or a GRU."""

    def __init__(self, mlp: nn.Module, kind: str, d: int, trainable: bool):
        super().__init__()
        self.mlp = mlp
        if kind == "conv":
            self.conv = nn.Conv2d(1, 1, kernel_size=1, dtype=torch.float64)
        else:
            self.gru = nn.GRU(d, d, batch_first=True, dtype=torch.float64)
        self.requires_grad_(True)
        for p in (self.conv if kind == "conv" else self.gru).parameters():
            p.requires_grad_(trainable)

    def forward(self, x):
        if hasattr(self, "conv"):
            return self.mlp(x) + self.conv(x.unsqueeze(1)).squeeze(1)  # [B, 1, T, d] -> [B, T, d]
        return self.mlp(x) + self.gru(x)[0]


def _with_extra(kind: str, trainable: bool):
    model = llama(seed=17)
    layer = model.model.layers[1]
    layer.mlp = _Extra(layer.mlp, kind, 16, trainable)
    return model


@pytest.mark.parametrize(("kind", "cls"), [("conv", "Conv2d"), ("gru", "GRU")])
def test_unsupported_trainable_module_is_named(kind, cls):
    """The error names the module's path and class, from step_values and from the attributor."""
    model = _with_extra(kind, trainable=True)
    batch, targets = make_batch(4, seed=161), make_targets(2, seed=162)
    seed_grads(model)
    before = snapshot(model)
    with pytest.raises(UnsupportedModuleError) as info:
        step_values(model, batch, targets, lr=0.1)
    _assert_says(info.value, [re.escape(f"model.layers.1.mlp.{kind}"), cls])
    assert_unchanged(model, before)

    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(UnsupportedModuleError) as info, InRunAttributor(model, opt, targets) as att:
        att.step(batch)
    _assert_says(info.value, [re.escape(f"model.layers.1.mlp.{kind}"), cls])
    assert_no_hooks(model, opt)
    for name, p in model.named_parameters():
        assert torch.equal(p, before["params"][name]), f"{name} moved"
    assert not opt.state


def test_frozen_unsupported_module_is_fine():
    """A Conv2d whose parameters are frozen needs no rule: values still equal the oracle."""
    model = _with_extra("conv", trainable=False)
    batch, targets = make_batch(4, seed=171), make_targets(2, seed=172)
    expected = first_order(0.1, per_sample_grads(model, batch), target_grads(model, targets))
    assert rel_err(step_values(model, batch, targets, lr=0.1), expected) <= 1e-6


def _nan_in_training(model, batch, targets):
    with torch.no_grad():
        model.lm_head.weight[3, 5] = float("nan")
    return batch, targets


def _nan_in_target_only(model, batch, targets):
    """Token 39's embedding is NaN; only target 0 uses it, so only its loss is non-finite."""
    batch, targets = _clone(batch), _clone(targets)
    batch["input_ids"][batch["input_ids"] == 39] = 38
    targets["input_ids"][0, 1] = 39
    with torch.no_grad():
        model.model.embed_tokens.weight[39] = float("nan")
    return batch, targets


@pytest.mark.parametrize("where", [_nan_in_training, _nan_in_target_only], ids=["train", "target"])
def test_non_finite_raises_and_changes_nothing(where):
    model = llama(seed=18)
    batch, targets = where(model, make_batch(4, seed=181), make_targets(2, seed=182))
    seed_grads(model)
    before = snapshot(model)
    with pytest.raises(NonFiniteError):
        step_values(model, batch, targets, lr=0.1)
    assert_unchanged(model, before)


def test_non_finite_training_step_applies_nothing():
    """att.step with a NaN loss raises NonFiniteError; no weight moves, optimizer untouched."""
    model = llama(seed=19)
    batch, targets = _nan_in_training(model, make_batch(4, seed=191), make_targets(2, seed=192))
    before, opt = fresh(model), torch.optim.AdamW(model.parameters(), lr=1e-2)
    with InRunAttributor(model, opt, targets) as att, pytest.raises(NonFiniteError):
        att.step(batch)
    assert_no_hooks(model, opt)
    pairs = zip(model.parameters(), before.parameters(), strict=True)
    assert all(torch.allclose(p, q, rtol=0, atol=0, equal_nan=True) for p, q in pairs)
    assert not opt.state
