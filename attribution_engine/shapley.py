"""Shapley accounting of one step: how each row's gradient becomes its share of the update.

Sign convention everywhere: positive = the row lowered the target's loss (helped produce it),
in nats of the target's mean token loss. First order, value_iv = g_v . s_i with s_i the row's
share of the update: lr * c * g_i under the SGD proxy, lr * c * g_i / (sqrt(v_hat) + eps) under
Adam with the step's state held fixed (DESIGN 2.4). Second order adds
-(1/2) s_i^T H_v (sum_j s_j), the Shapley value of the quadratic term (DESIGN 2.2).
"""

from collections.abc import Mapping, Sequence
from numbers import Integral

import torch
from torch import nn
from torch.nn.attention import SDPBackend, sdpa_kernel

from attribution_engine.config import Preconditioner
from attribution_engine.errors import AttributionInputError
from attribution_engine.ghost import Scale
from attribution_engine.modes import eval_mode
from attribution_engine.objective import predicted_counts, row_loss_sums


def sgd_scales(params: Sequence[nn.Parameter], lrs: Sequence[float], clip: float):
    """The SGD proxy: every coordinate scaled by lr * c."""
    return {p: Scale(lr * clip) for p, lr in zip(params, lrs, strict=True)}


def adam_second_moment(optimizer: torch.optim.Optimizer, param: nn.Parameter) -> torch.Tensor:
    """Adam's bias-corrected second moment v_hat of `param` after the coming step.

    Computed from the state before the step and the gradient now in param.grad, as
    torch.optim.Adam/AdamW will; `check_adam_state` compares it with the state afterwards.
    """
    group = param_group(optimizer, param)
    beta2 = group["betas"][1]
    state = optimizer.state.get(param, {})
    step = int(state["step"]) + 1 if "step" in state else 1
    grad = param.grad
    if group.get("maximize", False):
        raise AttributionInputError("Accounting.ADAM does not support maximize=True")
    if group["weight_decay"] and not _decoupled(optimizer, group):
        grad = grad + group["weight_decay"] * param.detach()  # L2 decay enters the moments
    previous = state.get("exp_avg_sq", torch.zeros_like(param))
    second = torch.addcmul(previous * beta2, grad, grad, value=1 - beta2)  # Adam's own update
    if group.get("amsgrad", False) and "max_exp_avg_sq" in state:
        second = torch.maximum(state["max_exp_avg_sq"], second)
    return second.div_(1 - beta2**step)


def adam_scales(
    optimizer: torch.optim.Optimizer,
    params: Sequence[nn.Parameter],
    clip: float,
    preconditioner: Preconditioner,
) -> tuple[dict[nn.Parameter, Scale], dict[nn.Parameter, torch.Tensor]]:
    """Adam-aware scales lr * c / (sqrt(v_hat) + eps) per parameter, and the coordinates of
    the v_hat used that check_adam_state compares (a sample, not a copy of the weights)."""
    scales, moments = {}, {}
    for p in params:
        group = param_group(optimizer, p)
        v_hat = adam_second_moment(optimizer, p)
        moments[p] = v_hat.reshape(-1)[:: _checked_stride(p)].clone()
        lr, eps = float(group["lr"]), group["eps"]
        if preconditioner is Preconditioner.FACTORED and p.dim() == 2:
            rows, cols = factored_inverse_sqrt(v_hat, eps)
            scales[p] = Scale(lr * clip, rows=rows, cols=cols)
        else:  # exact; for a vector the elementwise scale is already rank one
            scales[p] = Scale(lr * clip, full=v_hat.sqrt().add_(eps).reciprocal_())
    return scales, moments


def factored_inverse_sqrt(v_hat: torch.Tensor, eps: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Rank-one stand-in rho_r * gamma_c for 1 / (sqrt(v_hat_rc) + eps).

    Adafactor's factoring v_hat ~ R_r C_c / S (row sums R, column sums C, total S) is exact when
    v_hat has rank one; its inverse square root splits into x_r = sqrt(R_r) / S^(1/4) and
    y_c = sqrt(C_c) / S^(1/4). eps is spread as sqrt(eps) on each side so that empty rows
    (tokens never seen) get a large finite scale, as eps gives them in Adam.
    """
    total = v_hat.sum().clamp_min(torch.finfo(v_hat.dtype).tiny)
    root = eps**0.5
    x = v_hat.sum(dim=1).sqrt() / total**0.25
    y = v_hat.sum(dim=0).sqrt() / total**0.25
    return 1.0 / (x + root), 1.0 / (y + root)


# Coordinates of each tensor that check_adam_state compares (all of a smaller tensor).
CHECKED_COORDINATES = 4096


def _checked_stride(param: nn.Parameter) -> int:
    return max(1, param.numel() // CHECKED_COORDINATES)


def check_adam_state(
    optimizer: torch.optim.Optimizer, moments: Mapping[nn.Parameter, torch.Tensor]
) -> None:
    """After optimizer.step(): the v_hat the values used must be the optimizer's own.

    An optimizer with another update rule differs in every coordinate it touches, so evenly
    strided coordinates of each tensor are compared (CHECKED_COORDINATES; `moments` holds
    those of the v_hat used, from adam_scales); comparing all of them cost 6% of a step at the
    overhead benchmark's shape, and keeping all of v_hat a copy of the weights in memory.
    """
    for p, v_hat in moments.items():
        state = optimizer.state[p]
        beta2 = param_group(optimizer, p)["betas"][1]
        key = "max_exp_avg_sq" if "max_exp_avg_sq" in state else "exp_avg_sq"
        actual = state[key].reshape(-1)[:: _checked_stride(p)] / (1 - beta2 ** int(state["step"]))
        if not torch.allclose(actual, v_hat, rtol=1e-4, atol=1e-30):
            raise RuntimeError(
                f"{type(optimizer).__name__}'s second moment after the step differs from "
                "Adam's update rule; Accounting.ADAM assumes torch.optim.Adam/AdamW semantics. "
                "Use Accounting.SGD_PROXY for this optimizer."
            )


def second_order_columns(
    model: nn.Module,
    targets: Mapping[str, torch.Tensor],
    params: Sequence[nn.Parameter],
    scales: Mapping[nn.Parameter, Scale],
    clip: float,
) -> dict[nn.Parameter, torch.Tensor]:
    """Per parameter [V, *shape]: -(1/2) scale (.) H_v (scale (.) g), g = the step's gradient.

    Dotted with a row's raw gradient g_i this is -(1/2) s_i^T H_v (sum_j s_j). One exact
    Hessian-vector product (double backward) per target, on that target's row alone, at the
    current weights; the math attention kernel because fused kernels lack double backward.
    """
    # p.grad holds c * g after clipping and the scales hold c once: divide it out here.
    direction = [scales[p].apply(_grad_of(p).unsqueeze(0)).squeeze(0) / clip for p in params]
    counts = predicted_counts(targets["labels"])
    columns: list[list[torch.Tensor]] = [[] for _ in params]
    with eval_mode(model), sdpa_kernel(SDPBackend.MATH):
        for v in range(counts.shape[0]):
            row = {key: value[v : v + 1] for key, value in targets.items()}
            loss = row_loss_sums(model, row)[0] / counts[v]
            grads = torch.autograd.grad(loss, params, create_graph=True, allow_unused=True)
            dot = sum((g * d).sum() for g, d in zip(grads, direction, strict=True) if g is not None)
            hvp = torch.autograd.grad(dot, params, allow_unused=True)
            for column, h, p in zip(columns, hvp, params, strict=True):
                column.append(torch.zeros_like(p) if h is None else h.detach())
    return {
        p: scales[p].apply(torch.stack(column)) * -0.5
        for p, column in zip(params, columns, strict=True)
    }


def specific_values(values, reference: int | Sequence[int] | None = None, exclude=None):
    """Contribution to each target beyond what the row gave typical text (DESIGN 2.4b).

    values [N, C]: a torch tensor or a numpy array (the ledger's float64 sums), returned as
    the same kind. With `reference` a column index (a reference text scored as a target),
    returns every column minus that column (the reference's own column becomes 0); with
    several indices, minus their mean. With None, each column is contrasted with the mean
    over the other columns. By linearity of the Shapley value this is the value of the
    differential utility. `exclude` [N, R] (bool, R = the reference columns) leaves a row's
    marked columns out of its mean: a corpus document that is itself one of the reference
    texts is not contrasted with its own (self-)contribution. Written with indexing and
    `.sum(1)` only, so that both array kinds take the same arithmetic.
    """
    if reference is None:
        n_targets = values.shape[1]
        if n_targets < 2:
            raise AttributionInputError(
                "contrast with the other targets needs at least 2 targets; attach a reference "
                "text as a target and pass its column as `reference`"
            )
        others = (values.sum(1)[:, None] - values) / (n_targets - 1)  # [N, C]
        return values - others
    columns = [int(reference)] if isinstance(reference, Integral) else [int(c) for c in reference]
    if not columns:
        raise AttributionInputError(
            "no reference columns given; pass None to contrast with the other targets"
        )
    if exclude is None:
        return values - values[:, columns].sum(1)[:, None] / len(columns)  # [N, C] - [N, 1]
    kept = 1 - exclude * 1  # [N, R]: 1 where the column counts for that row
    if (kept.sum(1) == 0).any():
        raise AttributionInputError(
            "a row excludes every reference column, so it has no reference left; use at least "
            "two reference texts"
        )
    mean = (values[:, columns] * kept).sum(1) / kept.sum(1)  # [N]
    return values - mean[:, None]


def _grad_of(param: nn.Parameter) -> torch.Tensor:
    return torch.zeros_like(param) if param.grad is None else param.grad


def param_group(optimizer: torch.optim.Optimizer, param: nn.Parameter) -> dict:
    """The optimizer's parameter group that holds `param` (its lr, betas, eps, decay)."""
    for group in optimizer.param_groups:
        if any(p is param for p in group["params"]):
            return group
    raise AttributionInputError(
        f"a trainable parameter of shape {tuple(param.shape)} is not in the optimizer; "
        "freeze it (requires_grad=False) or add it to a parameter group"
    )


def _decoupled(optimizer: torch.optim.Optimizer, group: dict) -> bool:
    return group.get("decoupled_weight_decay", isinstance(optimizer, torch.optim.AdamW))
