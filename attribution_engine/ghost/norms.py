"""Normalisation layers: per-feature scales and shifts, small enough to materialise per row.

LayerNorm has a closed form: row gradient of the scale is sum_t xhat_t * b_t, of the shift
sum_t b_t. Any other module whose parameters are all per-feature vectors (RMSNorm of the
Llama/Mistral family, T5's norm, Gemma's 1 + w scale) is scored by differentiating the
module's own forward, one row at a time under torch.func.vmap: exact for any such module.
"""

import torch
from torch import nn
from torch.func import functional_call, grad, vmap

from attribution_engine.errors import UnsupportedModuleError
from attribution_engine.ghost.registry import register, register_shape
from attribution_engine.ghost.uses import SummedUse


@register(nn.LayerNorm, params=("weight", "bias"))
def layer_norm_uses(module: nn.Module, inputs: tuple[torch.Tensor, ...], grad_out: torch.Tensor):
    n, shape = grad_out.shape[0], module.normalized_shape
    x = inputs[0].reshape(n, -1, _numel(shape))
    b = grad_out.reshape(x.shape)  # N x T x d
    xhat = nn.functional.layer_norm(x, x.shape[-1:], eps=module.eps)  # no affine: (x-mu)/sigma
    uses = {}
    if module.weight is not None:
        uses["weight"] = SummedUse((xhat * b).sum(dim=1).reshape(n, *shape))
    if module.bias is not None:
        uses["bias"] = SummedUse(b.sum(dim=1).reshape(n, *shape))
    return uses


def _numel(shape: tuple[int, ...]) -> int:
    return int(torch.Size(shape).numel())


def _is_per_feature(module: nn.Module) -> bool:
    """A leaf whose parameters are all vectors: a norm. A module with parameterised children
    (an attention owning lambdas or sinks, an LM head owning a bias its decoder applies) does
    more than per-feature work on its own input and is not taken, nor is batch norm (its
    training statistics mix rows)."""
    params = list(module.parameters(recurse=False))
    leaf = all(not any(True for _ in child.parameters()) for child in module.children())
    mixes_rows = isinstance(module, nn.modules.batchnorm._BatchNorm)
    return bool(params) and leaf and not mixes_rows and all(p.dim() == 1 for p in params)


@register_shape(_is_per_feature)
def per_feature_uses(module: nn.Module, inputs: tuple[torch.Tensor, ...], grad_out: torch.Tensor):
    """Each row's parameter gradient by replaying the module's forward on that row alone, in
    the shape it was called with ([1, ...]: a multi-head norm keeps its head axis)."""
    if len(inputs) != 1:
        raise UnsupportedModuleError(
            f"{type(module).__name__} was taken for a per-feature norm (all its parameters are "
            f"vectors) but its forward got {len(inputs)} tensors, so the rule cannot replay "
            "it on one row; freeze its parameters (requires_grad_(False)) or register a rule "
            "for it with attribution_engine.ghost.register"
        )
    x = inputs[0]  # N x ...
    params = {
        name: p.detach() for name, p in module.named_parameters(recurse=False) if p.requires_grad
    }

    def row_dot(weights: dict[str, torch.Tensor], x_row: torch.Tensor, b_row: torch.Tensor):
        out = functional_call(module, weights, (x_row.unsqueeze(0),))
        return (out.reshape(b_row.shape) * b_row).sum()

    per_row = vmap(grad(row_dot), in_dims=(None, 0, 0))(params, x, grad_out)
    return {name: SummedUse(g) for name, g in per_row.items()}
