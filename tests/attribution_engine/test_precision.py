"""Half-precision models: the dot-product path is widened to fp32, never silently left in bf16."""

import oracle
import tiny_models
import torch

from attribution_engine import AttributionConfig, InRunAttributor, step_values
from attribution_engine.capture import Capture


def test_bf16_model_captures_in_fp32_and_matches_the_oracle():
    model = tiny_models.gpt2(seed=3).to(torch.bfloat16)
    batch = tiny_models.make_batch(4, seed=1)
    targets = tiny_models.make_targets(2, seed=2)
    with Capture(model) as capture, capture.recording(*batch["input_ids"].shape) as calls:
        oracle.token_losses(model, batch).sum().backward()
    model.zero_grad(set_to_none=True)
    assert calls and all(c.inputs[0].dtype in (torch.float32, torch.long) for c in calls)
    assert all(c.grad.dtype == torch.float32 for c in calls if c.grad is not None)

    values = step_values(model, batch, targets, lr=1e-2)
    assert values.dtype == torch.float64
    g_train = oracle.per_sample_grads(model, batch).float()
    g_targets = oracle.target_grads(model, targets).float()
    expected = (1e-2 * g_train @ g_targets.T).double()
    # bf16 activations and gradients differ between the batched and the row-by-row forward;
    # agreement to a few percent shows the same quantity is computed, in fp32.
    assert oracle.rel_err(values, expected) < 5e-2


def test_a_callers_autocast_does_not_reach_the_dot_products():
    """A training step written `with torch.autocast(...): attributor.step(batch)` (bf16 forward
    and backward): the step runs, and its values stay within bf16 rounding of the float32 ones
    rather than being recomputed in bf16 by the engine's own products (which also mixed dtypes
    and failed in the embedding scatter before the engine turned autocast off for them)."""
    model = tiny_models.gpt2(seed=4, n_embd=32).float()
    batch = tiny_models.make_batch(8, seed=21, t_max=16)
    targets = tiny_models.make_targets(2, seed=22, t_max=12)
    expected = step_values(model, batch, targets, lr=0.1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    attributor = InRunAttributor(model, optimizer, targets, AttributionConfig())
    with attributor, torch.autocast("cpu", dtype=torch.bfloat16):
        under_autocast = step_values(model, batch, targets, lr=0.1)
        result = attributor.step(batch)
    assert under_autocast.dtype == torch.float64
    assert oracle.rel_err(under_autocast, expected) < 5e-2
    assert oracle.rel_err(result.values, expected) < 5e-2
    assert torch.isfinite(result.predicted_drop).all()
