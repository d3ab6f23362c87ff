"""InRunAttributor.step (DESIGN 2.3, 2.4, 3): values, no leakage into the update, hooks cleaned."""

import math

import pytest
import torch
from checks import assert_no_hooks, fresh, max_weight_diff
from oracle import (
    adam_denominator,
    batch_grad,
    clip_factor,
    factored_adam_denominator,
    n_label_tokens,
    per_sample_grads,
    rel_err,
    target_grads,
    target_hvps,
    target_losses,
    token_losses,
)
from tiny_models import FAMILIES, concat_batches, gpt2, make_batch, make_targets, neox

from attribution_engine import (
    Accounting,
    AttributionConfig,
    InRunAttributor,
    Preconditioner,
    step_values,
)

SGD_LR, ADAM_LR = 0.1, 1e-2


def _params(model):
    return [p for p in model.parameters() if p.requires_grad]


def _optimizer(kind: str, model):
    if kind == "sgd":
        return torch.optim.SGD(_params(model), lr=SGD_LR)
    if kind == "sgd_momentum":
        return torch.optim.SGD(_params(model), lr=SGD_LR, momentum=0.9)
    if kind == "adam":
        return torch.optim.Adam(_params(model), lr=ADAM_LR)
    return torch.optim.AdamW(_params(model), lr=ADAM_LR, weight_decay=0.1)


def plain_step(model, optimizer, micro_batches, max_norm=None) -> None:
    """The same step without attribution: token-mean loss over all micro-batches, one update."""
    optimizer.zero_grad(set_to_none=True)
    n = sum(n_label_tokens(b) for b in micro_batches)
    for b in micro_batches:
        (token_losses(model, b).sum() / n).backward()
    if max_norm is not None:
        torch.nn.utils.clip_grad_norm_(_params(model), max_norm)
    optimizer.step()


def expected_values(model, optimizer, g_train, g_v, clip=1.0) -> torch.Tensor:
    """The oracle for the optimizer's accounting, read AFTER the step (Adam's v_hat): [B, V].

    g_train [B, P] and g_v [V, P] are taken at the weights before the step.
    """
    lr = optimizer.param_groups[0]["lr"]
    if isinstance(optimizer, torch.optim.Adam | torch.optim.AdamW):
        g_train = g_train / adam_denominator(optimizer, _params(model))
    return lr * clip * g_train @ g_v.T


@pytest.mark.parametrize("kind", ["sgd", "sgd_momentum", "adam", "adamw"])
@pytest.mark.parametrize("family", ["gpt2", "llama"])
def test_step_values_and_no_leakage(family, kind):
    """Three steps: values equal the oracle (step_values for SGD, Adam-aware for Adam/AdamW) to
    1e-9, the weights equal those of plain steps without targets, and the reported losses, lr,
    clip factor and predicted drop are right."""
    model = FAMILIES[family](seed=8)
    plain = fresh(model)
    opt, plain_opt = _optimizer(kind, model), _optimizer(kind, plain)
    targets = make_targets(3, seed=71)
    with InRunAttributor(model, opt, targets, AttributionConfig()) as att:
        for step in range(3):
            batch = make_batch(5, seed=72 + step)
            g_train, g_v = per_sample_grads(model, batch), target_grads(model, targets)
            sgd_values = step_values(model, batch, targets, lr=opt.param_groups[0]["lr"])
            with torch.no_grad():
                loss = float(token_losses(model, batch).sum() / n_label_tokens(batch))
            losses_before = target_losses(model, targets)
            w_before = torch.cat([p.detach().reshape(-1).clone() for p in _params(model)])

            res = att.step(batch)
            plain_step(plain, plain_opt, [batch])

            assert max_weight_diff(model, plain) <= 1e-10, f"step {step}: targets leaked"
            w_after = torch.cat([p.detach().reshape(-1) for p in _params(model)])
            expected = expected_values(model, opt, g_train, g_v)
            assert res.values.dtype == torch.float64 and res.values.shape == (5, 3)
            assert rel_err(res.values, expected) <= 1e-9, f"step {step}"
            if kind.startswith("sgd"):
                assert rel_err(res.values, sgd_values) <= 1e-9
            assert abs(res.train_loss - loss) <= 1e-12 * loss
            assert rel_err(res.target_losses, losses_before) <= 1e-12
            assert rel_err(res.predicted_drop, g_v @ (w_before - w_after)) <= 1e-9
            assert res.lr == opt.param_groups[0]["lr"] and res.clip_factor == 1.0
            if kind == "sgd":  # plain SGD: the values add up to the first-order drop exactly
                assert rel_err(res.values.sum(0), res.predicted_drop) <= 1e-9
    assert_no_hooks(model, opt)


@pytest.mark.parametrize("kind", ["sgd", "adamw"])
def test_sgd_proxy_ignores_the_optimizer(kind):
    """Accounting.SGD_PROXY gives lr g_v.g_i whatever the optimizer (the paper's proxy)."""
    model, batch, targets = gpt2(seed=9), make_batch(5, seed=81), make_targets(2, seed=82)
    opt = _optimizer(kind, model)
    expected = step_values(model, batch, targets, lr=opt.param_groups[0]["lr"])
    config = AttributionConfig(accounting=Accounting.SGD_PROXY)
    with InRunAttributor(model, opt, targets, config) as att:
        res = att.step(batch)
    assert rel_err(res.values, expected) <= 1e-9


@pytest.mark.parametrize("kind", ["sgd", "adamw"])
def test_clipping_scales_values_by_the_clip_factor(kind):
    """With max_grad_norm below the gradient norm, c = max_norm/(||g|| + 1e-6) multiplies every
    value, and the weights equal a plain step with torch's clip_grad_norm_."""
    model, batch, targets = gpt2(seed=10), make_batch(5, seed=91), make_targets(2, seed=92)
    plain = fresh(model)
    opt, plain_opt = _optimizer(kind, model), _optimizer(kind, plain)
    max_norm = 0.3 * float(batch_grad(model, batch).norm())
    c = clip_factor(batch_grad(model, batch), max_norm)
    assert 0.25 < c < 0.35
    g_train, g_v = per_sample_grads(model, batch), target_grads(model, targets)
    with InRunAttributor(model, opt, targets, AttributionConfig(max_grad_norm=max_norm)) as att:
        res = att.step(batch)
    plain_step(plain, plain_opt, [batch], max_norm=max_norm)
    assert abs(res.clip_factor - c) <= 1e-12
    assert rel_err(res.values, expected_values(model, opt, g_train, g_v, clip=c)) <= 1e-9
    assert max_weight_diff(model, plain) <= 1e-10


@pytest.mark.parametrize("kind", ["sgd", "adamw"])
def test_gradient_accumulation_equals_one_batch(kind):
    """Two micro-batches of different lengths: N counts label tokens over both, values equal
    those of the same rows taken as one batch, and so do the weights."""
    # GPT-2: tied weights and learned positions make accumulation the easiest to get wrong.
    model, targets = gpt2(seed=11), make_targets(2, seed=101)
    micro = [make_batch(3, seed=102, t_max=10), make_batch(4, seed=103, t_max=7)]
    whole = concat_batches(micro)
    plain = fresh(model)
    opt, plain_opt = _optimizer(kind, model), _optimizer(kind, plain)
    g_train, g_v = per_sample_grads(model, whole), target_grads(model, targets)
    with torch.no_grad():
        loss = float(token_losses(model, whole).sum() / n_label_tokens(whole))
    with InRunAttributor(model, opt, targets, AttributionConfig()) as att:
        res = att.step(micro)
    plain_step(plain, plain_opt, [whole])
    assert res.values.shape == (7, 2)
    assert rel_err(res.values, expected_values(model, opt, g_train, g_v)) <= 1e-9
    assert abs(res.train_loss - loss) <= 1e-12 * loss
    assert max_weight_diff(model, plain) <= 1e-10


def test_factored_preconditioner_is_exact_for_vectors():
    """With only 1-D parameters trainable (LayerNorm weights and biases, Linear biases) the
    factored preconditioner has nothing to factor: it equals the exact Adam-aware values."""
    model = neox(seed=12)
    for p in model.parameters():
        p.requires_grad_(p.dim() == 1)
    targets = make_targets(2, seed=111)
    opt = _optimizer("adamw", model)
    config = AttributionConfig(preconditioner=Preconditioner.FACTORED)
    with InRunAttributor(model, opt, targets, config) as att:
        for step in range(2):
            batch = make_batch(5, seed=112 + step)
            g_train, g_v = per_sample_grads(model, batch), target_grads(model, targets)
            res = att.step(batch)
            expected = expected_values(model, opt, g_train, g_v)
            assert rel_err(res.values, expected) <= 1e-9, f"step {step}"


def test_factored_preconditioner_is_close_for_matrices(record_property):
    """On a full GPT-2 the factored values equal an independent Adafactor-style computation (up
    to how eps is spread over the factors), and their distance from the exact Adam-aware values
    is measured and reported (DESIGN 2.4), not asserted: it is large at the first steps."""
    model, targets = gpt2(seed=13), make_targets(3, seed=121)
    opt = _optimizer("adamw", model)
    factored = AttributionConfig(preconditioner=Preconditioner.FACTORED)
    errs, corrs = [], []
    with InRunAttributor(model, opt, targets, factored) as att:
        for step in range(3):
            batch = make_batch(6, seed=122 + step)
            g_train, g_v = per_sample_grads(model, batch), target_grads(model, targets)
            values = att.step(batch).values
            lr = opt.param_groups[0]["lr"]
            mine = lr * g_train / factored_adam_denominator(opt, _params(model)) @ g_v.T
            assert rel_err(values, mine) <= 2e-2, f"step {step}"
            exact = expected_values(model, opt, g_train, g_v)
            errs.append(rel_err(values, exact))
            pair = torch.stack([values.flatten(), exact.flatten()])  # [2, B*V]
            corrs.append(float(torch.corrcoef(pair)[0, 1]))
    record_property("factored_vs_exact_rel_err", errs)
    record_property("factored_vs_exact_correlation", corrs)
    print(f"factored vs exact Adam-aware: rel err {errs}, correlation {corrs}")
    assert all(map(math.isfinite, errs + corrs))


@pytest.mark.parametrize("call", [1, 2])
@pytest.mark.parametrize("kind", ["forward", "backward"])
def test_hooks_removed_even_after_step_raised(kind, call):
    """A step that raises mid-way (in the 1st or 2nd forward or backward through ln_f: the
    target pass or the training pass) applies nothing; after close() no hook remains on any
    module, parameter or optimizer."""
    model, batch, targets = gpt2(seed=14), make_batch(4, seed=131), make_targets(2, seed=132)
    opt = _optimizer("adamw", model)
    before = fresh(model)
    seen = {"n": 0}

    def boom(*args):
        seen["n"] += 1
        if seen["n"] == call:
            raise RuntimeError("injected failure")

    att = InRunAttributor(model, opt, targets, AttributionConfig())
    ln_f = model.transformer.ln_f
    register = ln_f.register_forward_hook if kind == "forward" else ln_f.register_full_backward_hook
    handle = register(boom)
    with pytest.raises(RuntimeError, match="injected failure"):
        att.step(batch)
    handle.remove()
    assert seen["n"] == call
    att.close()
    att.close()  # closing twice is harmless
    assert_no_hooks(model, opt)
    assert max_weight_diff(model, before) == 0.0
    assert not opt.state, "optimizer state was touched by a failed step"


@pytest.mark.parametrize("kind", ["sgd", "adamw"])
def test_second_order_training_step(kind):
    """order=2 in the training step: with s_i the row's share of the update (lr g_i, or
    lr g_i / (sqrt(v_hat) + eps) under Adam), v_i = g_v.s_i - (1/2) s_i^T H_v (sum_j s_j)."""
    model, batch, targets = gpt2(seed=20), make_batch(5, seed=201), make_targets(2, seed=202)
    model_before, opt = fresh(model), _optimizer(kind, model)
    g_train, g_v = per_sample_grads(model, batch), target_grads(model, targets)
    with InRunAttributor(model, opt, targets, AttributionConfig(order=2)) as att:
        res = att.step(batch)
    lr = opt.param_groups[0]["lr"]
    shares = lr * g_train  # [B, P]
    if kind == "adamw":
        shares = shares / adam_denominator(opt, _params(model))
    hvps = target_hvps(model_before, targets, shares.sum(0))  # [V, P] at the weights before
    expected = shares @ g_v.T - 0.5 * shares @ hvps.T
    assert rel_err(res.values - shares @ g_v.T, expected - shares @ g_v.T) <= 1e-6
    assert rel_err(res.values, expected) <= 1e-9
    if kind == "sgd":
        plain = step_values(model_before, batch, targets, lr=lr, order=2)
        assert rel_err(res.values, plain) <= 1e-9


def test_context_manager_removes_hooks_on_exception():
    """`with InRunAttributor(...)`: every hook is gone after the block, even when it raised."""
    model, batch, targets = gpt2(seed=15), make_batch(4, seed=141), make_targets(1, seed=142)
    opt = _optimizer("sgd", model)
    with pytest.raises(KeyError), InRunAttributor(model, opt, targets) as att:
        att.step(batch)
        raise KeyError("user code failed")
    assert_no_hooks(model, opt)


class _OtherSecondMoment(torch.optim.AdamW):
    """AdamW whose second moment follows another rule (twice Adam's) after each step."""

    @torch.no_grad()
    def step(self, closure=None):
        loss = super().step(closure)
        for state in self.state.values():
            state["exp_avg_sq"].mul_(2.0)
        return loss


def test_adam_accounting_refuses_an_optimizer_with_another_update_rule():
    """Adam-aware values assume Adam's v_hat; an AdamW subclass with another rule is caught
    after its step (here on tensors large enough that only strided coordinates are read)."""
    model = gpt2(seed=12, n_embd=64, vocab=128)
    assert max(p.numel() for p in model.parameters()) > 4096
    batch, targets = make_batch(4, seed=95, vocab=128), make_targets(2, seed=96, vocab=128)
    optimizer = _OtherSecondMoment(_params(model), lr=ADAM_LR)
    attributor = InRunAttributor(model, optimizer, targets, AttributionConfig())
    with attributor, pytest.raises(RuntimeError, match="differs from Adam's update rule"):
        attributor.step(batch)
