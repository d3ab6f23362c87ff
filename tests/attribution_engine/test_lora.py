"""LoRA through the peft library: values over the adapter parameters only, equal to per-sample
autograd in float64 (the oracle of the engine tests), and real steps that move adapters only."""

import peft
import pytest
import torch
from checks import assert_no_hooks
from oracle import first_order, per_sample_grads, rel_err, second_order, target_grads, trainable
from tiny_models import gpt2, llama, make_batch, make_targets, perturb_adapters

from attribution_engine.config import Accounting, AttributionConfig
from attribution_engine.step import InRunAttributor, step_values

LR = 0.1
# Which modules get adapters, per family: Llama's q/v projections (nn.Linear) and GPT-2's fused
# attention and MLP projections (transformers Conv1D, weight stored [in, out]).
TARGET_MODULES = {"llama": ["q_proj", "v_proj"], "gpt2": ["c_attn", "c_fc"]}
BUILDERS = {"llama": llama, "gpt2": gpt2}


def peft_model(family: str, seed: int = 0) -> torch.nn.Module:
    """A float64 tiny model wrapped by peft, its LoRA B moved off zero so no term vanishes."""
    config = peft.LoraConfig(
        r=2,
        lora_alpha=4,
        lora_dropout=0.0,
        target_modules=TARGET_MODULES[family],
        fan_in_fan_out=family == "gpt2",  # Conv1D stores its weight transposed
    )
    return perturb_adapters(peft.get_peft_model(BUILDERS[family](seed), config), seed)


def test_only_adapters_are_players():
    model = peft_model("llama")
    names = [n for n, _ in trainable(model)]
    assert names and all("lora_" in n for n in names)


@pytest.mark.parametrize("family", ["llama", "gpt2"])
@pytest.mark.parametrize("n_targets", [1, 3])
@pytest.mark.parametrize("order", [1, 2])
def test_peft_values_equal_per_sample_autograd(family, n_targets, order):
    model = peft_model(family)
    batch, targets = make_batch(5, seed=1), make_targets(n_targets, seed=2)
    ours = step_values(model, batch, targets, lr=LR, order=order)
    if order == 1:
        oracle = first_order(LR, per_sample_grads(model, batch), target_grads(model, targets))
    else:
        oracle = second_order(model, batch, targets, LR)
    # Llama upcasts to float32 inside (RMSNorm, softmax): its second derivatives carry ~1e-8.
    tolerance = 1e-9 if order == 1 or family == "gpt2" else 1e-6
    assert rel_err(ours, oracle) < tolerance
    assert_no_hooks(model)


def test_peft_step_moves_adapters_only_with_adam_values():
    """A real AdamW step: frozen base weights stay bit-identical, the adapters move by exactly
    the update the values account for (Adam-aware values sum to the first-order drop)."""
    model = peft_model("llama")
    frozen = {n: p.detach().clone() for n, p in model.named_parameters() if not p.requires_grad}
    adapters = [p for _, p in trainable(model)]
    optimizer = torch.optim.AdamW(adapters, lr=1e-3, weight_decay=0.0)
    batch, targets = make_batch(4, seed=5), make_targets(2, seed=6)
    config = AttributionConfig(max_grad_norm=None)
    with InRunAttributor(model, optimizer, targets, config) as attributor:
        for _ in range(2):  # the second step has a non-trivial second moment
            result = attributor.step(batch)
    assert result.accounting is Accounting.ADAM
    for name, p in model.named_parameters():
        if not p.requires_grad:
            assert torch.equal(p, frozen[name]), name
    # Under Adam with first moment from this step alone the efficiency sum is not exact; with
    # beta1 = 0 the update is lr * g / (sqrt(v_hat) + eps) and the values must add up to it.
    model2 = peft_model("llama")
    adapters2 = [p for _, p in trainable(model2)]
    optimizer2 = torch.optim.AdamW(adapters2, lr=1e-3, betas=(0.0, 0.999), weight_decay=0.0)
    with InRunAttributor(model2, optimizer2, targets, config) as attributor:
        result = attributor.step(batch)
    assert rel_err(result.values_sum, result.predicted_drop) < 1e-9
    assert_no_hooks(model2, optimizer2)
