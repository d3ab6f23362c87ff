"""nn.Linear (weight [out, in]) and Hugging Face Conv1D (weight [in, out], GPT-2).

Per token the weight gradient is b_t (x) a_t (out x in) for Linear, a_t (x) b_t for Conv1D,
with a the layer input [N, T, d_in] and b the output gradient [N, T, d_out]; the bias
gradient of a row is sum_t b_t.
"""

import torch
from torch import nn
from transformers.pytorch_utils import Conv1D

from attribution_engine.ghost.factors import Dense
from attribution_engine.ghost.registry import as_tokens, register
from attribution_engine.ghost.uses import FactoredUse, SummedUse, Use


def _bias(module: nn.Module, grad: torch.Tensor) -> dict[str, Use]:
    return {} if module.bias is None else {"bias": SummedUse(grad.sum(dim=1))}


# Subclasses that override forward with the same math, x W^T + b (tests/attribution_engine/
# test_registry.py reads each forward's source).
LINEAR_EQUIVALENTS = ("transformers.models.falcon.modeling_falcon.FalconLinear",)


@register(nn.Linear, *LINEAR_EQUIVALENTS, params=("weight", "bias"))
def linear_uses(module: nn.Module, inputs: tuple[torch.Tensor, ...], grad: torch.Tensor):
    n = grad.shape[0]
    a, b = as_tokens(inputs[0], n), as_tokens(grad, n)  # N x T x d_in, N x T x d_out
    return {"weight": FactoredUse(Dense(b), Dense(a)), **_bias(module, b)}


@register(Conv1D, params=("weight", "bias"))
def conv1d_uses(module: nn.Module, inputs: tuple[torch.Tensor, ...], grad: torch.Tensor):
    n = grad.shape[0]
    a, b = as_tokens(inputs[0], n), as_tokens(grad, n)  # N x T x d_in, N x T x d_out
    return {"weight": FactoredUse(Dense(a), Dense(b)), **_bias(module, b)}
