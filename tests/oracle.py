"""Slow, obviously correct float64 oracles for In-Run Data Shapley values (DESIGN.md 2 and 3).

Everything here is computed from scratch with autograd, one row at a time, from logits with an
explicit causal shift (labels are never passed to the Hugging Face model, so it cannot shift them a
second time). Nothing here writes .grad or changes a weight.

Dimension legend: B train rows, V target rows, T tokens, P trainable parameters (flattened).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable

import torch
from torch import nn
from torch.func import functional_call

Batch = dict[str, torch.Tensor]


def trainable(model: nn.Module) -> list[tuple[str, nn.Parameter]]:
    """Trainable parameters in named_parameters order (a tied weight appears once)."""
    return [(n, p) for n, p in model.named_parameters() if p.requires_grad]


def row(batch: Batch, i: int) -> Batch:
    """Row i of a batch as a batch of one row (padding kept)."""
    return {k: v[i : i + 1] for k, v in batch.items()}


def n_label_tokens(batch: Batch) -> int:
    """Number of predicted label tokens: labels at positions >= 1 that are not -100."""
    return int((batch["labels"][:, 1:] != -100).sum())


def token_losses(model: nn.Module, batch: Batch) -> torch.Tensor:
    """Cross-entropy of every predicted token, 0 where ignored: [rows, T-1]."""
    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    logits, labels = logits[:, :-1], batch["labels"][:, 1:]  # position t-1 predicts label t
    ce = nn.functional.cross_entropy(
        logits.reshape(-1, logits.shape[-1]), labels.reshape(-1), reduction="none"
    )  # ignore_index=-100 gives exactly 0 at ignored tokens
    return ce.view(labels.shape)


def _flat_grad(loss: torch.Tensor, params: list[nn.Parameter], create_graph=False) -> torch.Tensor:
    grads = torch.autograd.grad(loss, params, create_graph=create_graph, allow_unused=True)
    pairs = zip(grads, params, strict=True)
    return torch.cat([(torch.zeros_like(p) if g is None else g).reshape(-1) for g, p in pairs])


def per_sample_grads(model: nn.Module, batch: Batch, normaliser: int | None = None):
    """g_i = grad of (row i's summed token loss) / N: [B, P].

    N = label tokens of the whole batch unless `normaliser` gives it (gradient accumulation).
    """
    params = [p for _, p in trainable(model)]
    n = n_label_tokens(batch) if normaliser is None else normaliser
    losses = [token_losses(model, row(batch, i)).sum() / n for i in range(len(batch["labels"]))]
    return torch.stack([_flat_grad(loss, params) for loss in losses])


def batch_grad(model: nn.Module, batch: Batch) -> torch.Tensor:
    """The applied gradient: grad of the token-mean loss of the whole batch in one forward: [P]."""
    params = [p for _, p in trainable(model)]
    return _flat_grad(token_losses(model, batch).sum() / n_label_tokens(batch), params)


class _EvalMode:
    """Targets are scored in eval mode; restore the caller's mode afterwards."""

    def __init__(self, model: nn.Module):
        self.model, self.was_training = model, model.training

    def __enter__(self):
        self.model.eval()

    def __exit__(self, *exc):
        self.model.train(self.was_training)


def _target_loss(model: nn.Module, targets: Batch, v: int) -> torch.Tensor:
    t = row(targets, v)
    return token_losses(model, t).sum() / n_label_tokens(t)


def target_losses(model: nn.Module, targets: Batch) -> torch.Tensor:
    """Mean token loss of each target over its own label tokens: [V]."""
    with _EvalMode(model), torch.no_grad():
        return torch.stack([_target_loss(model, targets, v) for v in range(len(targets["labels"]))])


def target_grads(model: nn.Module, targets: Batch) -> torch.Tensor:
    """g_v = grad of target v's mean token loss: [V, P]."""
    params = [p for _, p in trainable(model)]
    with _EvalMode(model):
        losses = [_target_loss(model, targets, v) for v in range(len(targets["labels"]))]
        return torch.stack([_flat_grad(loss, params) for loss in losses])


def target_hvps(model: nn.Module, targets: Batch, vec: torch.Tensor) -> torch.Tensor:
    """u_v = H_v vec by double backward, one target at a time: [V, P]."""
    params = [p for _, p in trainable(model)]
    out = []
    with _EvalMode(model):
        for v in range(len(targets["labels"])):
            g = _flat_grad(_target_loss(model, targets, v), params, create_graph=True)
            out.append(_flat_grad(g @ vec, params))
    return torch.stack(out)


def first_order(lr: float, g_train: torch.Tensor, g_targets: torch.Tensor) -> torch.Tensor:
    """v_iv = lr * g_v . g_i: [B, V]."""
    return lr * g_train @ g_targets.T


def second_order(model: nn.Module, batch: Batch, targets: Batch, lr: float) -> torch.Tensor:
    """v_iv = lr g_v.g_i - (lr^2/2) g_i^T H_v (sum_j g_j): [B, V]."""
    g_train = per_sample_grads(model, batch)
    u = target_hvps(model, targets, g_train.sum(0))  # [V, P]
    return first_order(lr, g_train, target_grads(model, targets)) - lr**2 / 2 * g_train @ u.T


def interaction(model: nn.Module, batch: Batch, targets: Batch, lr: float) -> torch.Tensor:
    """The second-order term alone, -(lr^2/2) g_i^T H_v (sum_j g_j): [B, V]."""
    g_train = per_sample_grads(model, batch)
    return -(lr**2) / 2 * g_train @ target_hvps(model, targets, g_train.sum(0)).T


def full_hessian(model: nn.Module, targets: Batch, v: int) -> torch.Tensor:
    """Explicit Hessian of target v's loss over the flattened trainable parameters: [P, P]."""
    named = trainable(model)
    shapes = [p.shape for _, p in named]
    sizes = [p.numel() for _, p in named]
    flat0 = torch.cat([p.detach().reshape(-1) for _, p in named])

    def loss_of(flat: torch.Tensor) -> torch.Tensor:
        pieces = torch.split(flat, sizes)
        params = {n: x.view(s) for (n, _), x, s in zip(named, pieces, shapes, strict=True)}
        t = row(targets, v)
        inputs = {"input_ids": t["input_ids"], "attention_mask": t["attention_mask"]}
        logits = functional_call(model, params, (), inputs).logits
        ce = nn.functional.cross_entropy(logits[0, :-1], t["labels"][0, 1:], reduction="sum")
        return ce / n_label_tokens(t)

    with _EvalMode(model):
        return torch.autograd.functional.hessian(loss_of, flat0)


def exact_shapley(utility: Callable[[tuple[int, ...]], float], n: int) -> torch.Tensor:
    """Shapley values by enumerating every subset of n players (n <= ~10): [n].

    phi_i = sum over S not containing i of |S|! (n-|S|-1)! / n! * (U(S + i) - U(S)).
    """
    cache = {s: utility(s) for k in range(n + 1) for s in itertools.combinations(range(n), k)}
    phi = torch.zeros(n, dtype=torch.float64)
    for i in range(n):
        others = [j for j in range(n) if j != i]
        for k in range(n):
            weight = math.factorial(k) * math.factorial(n - k - 1) / math.factorial(n)
            for s in itertools.combinations(others, k):
                phi[i] += weight * (cache[tuple(sorted((*s, i)))] - cache[s])
    return phi


def quadratic_utility(lr: float, g_train: torch.Tensor, g_v: torch.Tensor, h_v: torch.Tensor):
    """U(S) = lr g_v.G_S - (lr^2/2) G_S^T H_v G_S, G_S = sum_{j in S} g_j (second-order Taylor)."""

    def utility(s: tuple[int, ...]) -> float:
        if not s:
            return 0.0
        g_s = g_train[list(s)].sum(0)
        return float(lr * g_v @ g_s - lr**2 / 2 * g_s @ h_v @ g_s)

    return utility


def adam_denominator(optimizer: torch.optim.Optimizer, params: list[nn.Parameter]) -> torch.Tensor:
    """sqrt(v_hat) + eps from the optimizer's state after its step (torch Adam/AdamW): [P]."""
    return _denominator(optimizer, params, lambda v_hat: v_hat)


def factored_adam_denominator(optimizer: torch.optim.Optimizer, params: list[nn.Parameter]):
    """Adafactor-style stand-in for adam_denominator: [P].

    For a matrix, v_hat is replaced by its rank-one factoring R C^T / S (row sums R, column sums
    C, total S); vectors keep their exact v_hat.
    """

    def factored(v_hat: torch.Tensor) -> torch.Tensor:
        if v_hat.dim() != 2:
            return v_hat
        return v_hat.sum(1, keepdim=True) * v_hat.sum(0, keepdim=True) / v_hat.sum()

    return _denominator(optimizer, params, factored)


def _denominator(
    optimizer: torch.optim.Optimizer,
    params: list[nn.Parameter],
    form: Callable[[torch.Tensor], torch.Tensor],
) -> torch.Tensor:
    """sqrt(form(v_hat)) + eps per parameter, flattened and concatenated: [P]. v_hat is Adam's
    bias-corrected second moment exp_avg_sq / (1 - beta2^step) after the optimizer's step."""
    group = optimizer.param_groups[0]
    beta2, eps = group["betas"][1], group["eps"]
    out = []
    for p in params:
        state = optimizer.state[p]
        v_hat = state["exp_avg_sq"] / (1 - beta2 ** float(state["step"]))
        out.append((form(v_hat).sqrt() + eps).reshape(-1))
    return torch.cat(out)


def clip_factor(total_grad: torch.Tensor, max_norm: float | None) -> float:
    """c = min(1, max_norm / (||g|| + 1e-6)), as torch.nn.utils.clip_grad_norm_ scales."""
    if max_norm is None:
        return 1.0
    return min(1.0, max_norm / (float(total_grad.norm()) + 1e-6))


def rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    """max|a - b| / max|b|: the relative error used throughout the suite."""
    a, b = torch.as_tensor(a, dtype=torch.float64), torch.as_tensor(b, dtype=torch.float64)
    assert a.shape == b.shape, f"shape {tuple(a.shape)} != {tuple(b.shape)}"
    return float((a - b).abs().max() / b.abs().max())
