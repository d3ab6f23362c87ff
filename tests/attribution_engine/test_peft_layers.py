"""peft layers beyond LoRA on linear layers (issue 16 item 5): LoRA on an embedding and DoRA on
linear layers are scored exactly (replayed per row), against per-sample autograd in float64;
DoRA on an embedding is refused, saying what to do, before any step."""

import peft
import pytest
import torch
from oracle import first_order, per_sample_grads, rel_err, second_order, target_grads
from tiny_models import gpt2, llama, make_batch, make_targets, perturb_adapters

from attribution_engine import step_values
from attribution_engine.errors import UnsupportedModuleError

LR = 0.1
# Llama: LoRA on the (untied) embedding and on q_proj; GPT-2: on the wte that lm_head shares.
CASES = {"llama": (llama, ["embed_tokens", "q_proj"]), "gpt2": (gpt2, ["wte"])}


def _model(family: str) -> torch.nn.Module:
    build, modules = CASES[family]
    config = peft.LoraConfig(r=2, lora_alpha=4, target_modules=modules)
    return perturb_adapters(peft.get_peft_model(build(seed=3), config), seed=3)


@pytest.mark.parametrize("order", [1, 2])
@pytest.mark.parametrize("n_targets", [1, 3])
@pytest.mark.parametrize("family", CASES)
def test_lora_on_embedding_equals_per_sample_autograd(family, n_targets, order):
    model = _model(family)
    batch, targets = make_batch(5, seed=71), make_targets(n_targets, seed=72)
    values = step_values(model, batch, targets, lr=LR, order=order)
    if order == 1:
        expected = first_order(LR, per_sample_grads(model, batch), target_grads(model, targets))
    else:
        expected = second_order(model, batch, targets, LR)
    # Llama computes RMSNorm and softmax in float32 inside: second derivatives carry ~1e-8.
    assert rel_err(values, expected) <= (1e-6 if order == 2 and family == "llama" else 1e-9)


@pytest.mark.parametrize("order", [1, 2])
@pytest.mark.parametrize("n_targets", [1, 3])
def test_dora_on_linear_layers_equals_per_sample_autograd(n_targets, order):
    config = peft.LoraConfig(r=2, lora_alpha=4, target_modules=["q_proj", "v_proj"], use_dora=True)
    model = perturb_adapters(peft.get_peft_model(llama(seed=4), config), seed=4)
    with torch.no_grad():  # magnitudes away from the weight norms they start at
        for name, p in model.named_parameters():
            if "lora_magnitude_vector" in name:
                p.mul_(1.0 + 0.1 * torch.randn(p.shape, dtype=p.dtype))
    batch, targets = make_batch(5, seed=73), make_targets(n_targets, seed=74)
    values = step_values(model, batch, targets, lr=LR, order=order)
    if order == 1:
        expected = first_order(LR, per_sample_grads(model, batch), target_grads(model, targets))
    else:
        expected = second_order(model, batch, targets, LR)
    assert rel_err(values, expected) <= (1e-6 if order == 2 else 1e-9)


def test_dora_on_an_embedding_is_refused_with_what_to_do():
    config = peft.LoraConfig(r=2, lora_alpha=4, target_modules=["embed_tokens"], use_dora=True)
    model = peft.get_peft_model(llama(seed=4), config)
    with pytest.raises(UnsupportedModuleError, match=r"lora_magnitude_vector.*use_dora=False"):
        step_values(model, make_batch(3, seed=73), make_targets(1, seed=74), lr=LR)
