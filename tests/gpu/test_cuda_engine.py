"""The engine on a CUDA device equals the CPU float64 oracle (run where a GPU is: `make test-gpu`).

Deselected by `make test` (marker `gpu`): CI has no GPU. PROVENANCE_TEST_DEVICE=cpu runs the same
checks on the CPU, which is how the file itself is checked where no GPU is.
"""

import os

import pytest
import torch
from checks import assert_no_hooks, fresh, max_weight_diff
from oracle import (
    adam_denominator,
    first_order,
    per_sample_grads,
    rel_err,
    second_order,
    target_grads,
)
from tiny_models import FAMILIES, FLOAT32_INSIDE, gpt2, make_batch, make_targets

from attribution_engine import AttributionConfig, InRunAttributor, Strategy, step_values

DEVICE = torch.device(os.environ.get("PROVENANCE_TEST_DEVICE", "cuda"))
LR = 0.1

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(
        DEVICE.type == "cuda" and not torch.cuda.is_available(),
        reason="no CUDA device here (set PROVENANCE_TEST_DEVICE=cpu to check the logic)",
    ),
]


def on_device(rows: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.to(DEVICE) for k, v in rows.items()}


@pytest.mark.parametrize("order", [1, 2])
@pytest.mark.parametrize("strategy", [Strategy.GRAM, Strategy.TARGET, Strategy.PER_SAMPLE])
@pytest.mark.parametrize("n_targets", [1, 3])
@pytest.mark.parametrize("family", FAMILIES)
def test_step_values_on_device_equal_the_cpu_oracle(family, n_targets, strategy, order):
    """Every family, strategy and order: float64 values computed on the device, 1e-6 relative."""
    model = FAMILIES[family](seed=3)
    batch, targets = make_batch(6, seed=11), make_targets(n_targets, seed=12)
    if order == 1:
        expected = first_order(LR, per_sample_grads(model, batch), target_grads(model, targets))
    else:
        expected = second_order(model, batch, targets, LR)
    device_model = fresh(model).to(DEVICE)
    values = step_values(
        device_model, on_device(batch), on_device(targets), lr=LR, order=order, strategy=strategy
    )
    assert values.device.type == DEVICE.type and values.dtype == torch.float64
    tolerance = 1e-6 if order == 1 or family not in FLOAT32_INSIDE else 1e-5
    assert rel_err(values.cpu(), expected) <= tolerance
    assert_no_hooks(device_model)


@pytest.mark.parametrize("order", [1, 2])
def test_adamw_steps_on_device_equal_the_same_steps_on_cpu(order):
    """Three AdamW steps with clipping and Adam-aware values: the device's values equal the
    oracle's (1e-9) and its weights equal the CPU run's (1e-10), so targets did not leak."""
    model = gpt2(seed=8)
    targets = make_targets(3, seed=71)
    config = AttributionConfig(order=order, max_grad_norm=0.5)
    runs = {}
    for device in (torch.device("cpu"), DEVICE):
        copy = fresh(model).to(device)
        optimizer = torch.optim.AdamW(copy.parameters(), lr=1e-2, weight_decay=0.1)
        rows = {k: v.to(device) for k, v in targets.items()}
        with InRunAttributor(copy, optimizer, rows, config) as attributor:
            results = [
                attributor.step({k: v.to(device) for k, v in make_batch(5, seed=72 + s).items()})
                for s in range(3)
            ]
        assert_no_hooks(copy, optimizer)
        runs[device.type] = copy, optimizer, results
    cpu_model, _, cpu_results = runs["cpu"]
    device_model, _, device_results = runs[DEVICE.type]
    for step, (cpu, dev) in enumerate(zip(cpu_results, device_results, strict=True)):
        assert dev.values.device.type == DEVICE.type
        assert rel_err(dev.values.cpu(), cpu.values) <= 1e-9, f"step {step}"
        assert abs(dev.clip_factor - cpu.clip_factor) <= 1e-12
    assert max_weight_diff(device_model.cpu(), cpu_model) <= 1e-10


def test_first_step_adam_values_on_device_equal_the_oracle():
    """Adam-aware values of one step on the device: lr g_i / (sqrt(v_hat)+eps) . g_v (1e-9)."""
    model, batch, targets = gpt2(seed=9), make_batch(5, seed=81), make_targets(2, seed=82)
    g_train, g_v = per_sample_grads(model, batch), target_grads(model, targets)
    device_model = fresh(model).to(DEVICE)
    optimizer = torch.optim.AdamW(device_model.parameters(), lr=1e-2)
    with InRunAttributor(device_model, optimizer, on_device(targets), AttributionConfig()) as att:
        result = att.step(on_device(batch))
    params = [p.cpu() for p in device_model.parameters()]
    cpu_optimizer = torch.optim.AdamW(params, lr=1e-2)
    for p, q in zip(params, device_model.parameters(), strict=True):
        cpu_optimizer.state[p] = {k: v.cpu() for k, v in optimizer.state[q].items()}
    expected = 1e-2 * (g_train / adam_denominator(cpu_optimizer, params)) @ g_v.T
    assert rel_err(result.values.cpu(), expected) <= 1e-9


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_lower_precision_on_device_stays_close_to_float64(dtype):
    """A float32 model (and one under bf16 autocast, as GPU training runs) against float64 values:
    float32 to 1e-4 relative; bf16 to 5e-2, with the same sign for every clearly non-zero value."""
    model = gpt2(seed=4, n_embd=32)
    batch, targets = make_batch(8, seed=21, t_max=16), make_targets(2, seed=22, t_max=12)
    expected = first_order(LR, per_sample_grads(model, batch), target_grads(model, targets))
    low = fresh(model).float().to(DEVICE)
    with torch.autocast(DEVICE.type, dtype=torch.bfloat16, enabled=dtype == torch.bfloat16):
        values = step_values(low, on_device(batch), on_device(targets), lr=LR)
    error = rel_err(values.cpu(), expected)
    print(f"{dtype}: relative error {error:.2e}")
    if dtype == torch.float32:
        assert error <= 1e-4
    else:
        assert error <= 5e-2
        clear = expected.abs() > 0.1 * expected.abs().max()
        assert torch.equal(values.cpu()[clear].sign(), expected[clear].sign())
