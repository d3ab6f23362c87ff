"""The oracle checked against independent computations, so that engine failures mean engine bugs."""

import pytest
import torch
from oracle import (
    batch_grad,
    exact_shapley,
    first_order,
    full_hessian,
    n_label_tokens,
    per_sample_grads,
    quadratic_utility,
    rel_err,
    second_order,
    target_grads,
    target_hvps,
    token_losses,
    trainable,
)
from tiny_models import FAMILIES, gpt2_micro, make_batch, make_targets
from torch.func import functional_call, grad, vmap


@pytest.mark.parametrize("family", FAMILIES)
def test_per_sample_grads_sum_to_batch_gradient(family):
    """sum_i g_i is the gradient of the batch's token-mean loss (DESIGN 2.3)."""
    model, batch = FAMILIES[family](), make_batch(5, seed=1)
    assert rel_err(per_sample_grads(model, batch).sum(0), batch_grad(model, batch)) < 1e-12


@pytest.mark.parametrize("family", FAMILIES)
def test_loop_equals_vmap_grad(family):
    """The batch-size-1 loop equals torch.func vmap(grad) over rows."""
    model, batch = FAMILIES[family](), make_batch(4, seed=2)
    named = trainable(model)
    params = {n: p.detach() for n, p in named}
    n_tokens = n_label_tokens(batch)

    def row_loss(params, ids, mask, labels):
        inputs = {"input_ids": ids[None], "attention_mask": mask[None]}
        logits = functional_call(model, params, (), inputs).logits[0]
        loss = torch.nn.functional.cross_entropy(logits[:-1], labels[1:], reduction="sum")
        return loss / n_tokens

    rows = (batch["input_ids"], batch["attention_mask"], batch["labels"])
    grads = vmap(grad(row_loss), in_dims=(None, 0, 0, 0))(params, *rows)
    flat = torch.cat([grads[n].reshape(4, -1) for n, _ in named], dim=1)
    assert rel_err(per_sample_grads(model, batch), flat) < 1e-12


@pytest.mark.parametrize("family", ["gpt2", "llama"])
def test_loss_matches_hugging_face_shift(family):
    """Our explicit shift gives the same batch loss as the model's own labels= path.

    Hugging Face upcasts logits to float32 for its loss, hence the 1e-5 tolerance; shifting twice
    (the pitfall of DESIGN 3) moves the loss by far more.
    """
    model, batch = FAMILIES[family](), make_batch(4, seed=3)
    with torch.no_grad():
        ours = token_losses(model, batch).sum() / n_label_tokens(batch)
        theirs = model(**batch).loss
    assert abs(float(ours - theirs)) < 1e-5
    pre_shifted = torch.nn.functional.pad(batch["labels"][:, 1:], (0, 1), value=-100)
    shifted = dict(batch, labels=pre_shifted)
    with torch.no_grad():
        assert abs(float(model(**shifted).loss - theirs)) > 1e-2


def test_hvp_equals_explicit_hessian():
    """Double-backward HVP equals the explicit Hessian times the vector."""
    model = gpt2_micro()
    targets = make_targets(2, seed=4, vocab=10)
    vec = per_sample_grads(model, make_batch(6, seed=5, t_max=8, vocab=10)).sum(0)
    hvps = target_hvps(model, targets, vec)
    for v in range(2):
        h = full_hessian(model, targets, v)
        assert torch.allclose(h, h.T, atol=1e-12)
        assert rel_err(hvps[v], h @ vec) < 1e-12


def test_shapley_enumeration_equals_closed_form():
    """Exact Shapley of the quadratic utility equals the closed form of DESIGN 2.2."""
    model, lr = gpt2_micro(), 1.0
    batch = make_batch(6, seed=6, t_max=8, vocab=10)
    targets = make_targets(1, seed=7, vocab=10)
    g_train, g_v = per_sample_grads(model, batch), target_grads(model, targets)[0]
    phi = exact_shapley(quadratic_utility(lr, g_train, g_v, full_hessian(model, targets, 0)), 6)
    closed = second_order(model, batch, targets, lr)[:, 0]
    assert rel_err(phi, closed) < 1e-10
    # The second-order term is not negligible here, so the check has teeth.
    assert rel_err(first_order(lr, g_train, g_v[None])[:, 0], closed) > 1e-2


def test_exact_shapley_on_a_known_game():
    """Glove game: players 0 and 1 (a pair) and 2 (a duplicate of 1); known values 2/3, 1/6, 1/6."""

    def utility(s):
        return float(0 in s and (1 in s or 2 in s))

    assert torch.allclose(exact_shapley(utility, 3), torch.tensor([2 / 3, 1 / 6, 1 / 6]).double())
