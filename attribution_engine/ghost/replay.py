"""Modules that own parameters used inside their own arithmetic (GPT-OSS's attention sinks,
DiffLlama's lambdas, Doge's residual scales): each row's gradient of those parameters by
replaying the module's own forward on that row.

The module's children (its q/k/v/o projections) are scored by their own rules; this rule covers
only the module's direct parameters, which enter inside its arithmetic where no captured tensor
exposes them. Attention, MLPs and decoder layers treat rows independently, so the per-row
gradient of the module's direct parameters w is d(out_n . b_n)/dw, with out_n the module's
output on row n alone (its args sliced to row n: hidden states, masks, rotary tables with a
row axis) and b_n that row's output gradient. Exact for any module whose rows are
independent; costs one more forward and backward of the module per training row. Registered
only for classes checked against the oracle (tests/attribution_engine/test_zoo.py).
Dimension legend: N rows.
"""

import torch
from torch import nn
from torch.func import functional_call

from attribution_engine.ghost.registry import register
from attribution_engine.ghost.uses import SummedUse

_MODELS = "transformers.models"
REPLAYED = tuple(
    f"{_MODELS}.{path}"
    for path in (
        "gpt_oss.modeling_gpt_oss.GptOssAttention",  # sinks [heads]
        "flint.modeling_flint.FlintAttention",
        "granite_swa.modeling_granite_swa.GraniteSWAAttention",
        "granitemoe_swa.modeling_granitemoe_swa.GraniteMoeSWAAttention",
        "hy_v4.modeling_hy_v4.HYV4Attention",
        "diffllama.modeling_diffllama.DiffLlamaAttention",  # lambda_q1, k1, q2, k2
        "beam.modeling_beam.BeamAttention",  # gate_bias
        "doge.modeling_doge.DogeAttention",  # A
        "doge.modeling_doge.DogeDecoderLayer",  # input_residual, post_attention_residual
    )
)


def _row(tree: object, n: int, n_rows: int) -> object:
    """The args of row n: every tensor with a leading row axis sliced to [1, ...]."""
    if isinstance(tree, torch.Tensor):
        return tree[n : n + 1] if tree.dim() >= 1 and tree.shape[0] == n_rows else tree
    if isinstance(tree, tuple | list):
        return type(tree)(_row(item, n, n_rows) for item in tree)
    if isinstance(tree, dict):
        return {key: _row(value, n, n_rows) for key, value in tree.items()}
    return tree


def replayed_parameters(module: nn.Module) -> list[str]:
    """The module's own trainable parameters, and those of its bare parameter containers
    (peft's lora_embedding_A.default), which its forward reads directly."""
    names = [name for name, p in module.named_parameters(recurse=False) if p.requires_grad]
    for child_name, child in module.named_children():
        if isinstance(child, nn.ParameterDict | nn.ParameterList):
            held = child.named_parameters()
            names += [f"{child_name}.{name}" for name, p in held if p.requires_grad]
    return names


@register(*REPLAYED, params=None, output=0, replay=True)
def replay_uses(module: nn.Module, inputs: tuple, grad: torch.Tensor) -> dict[str, SummedUse]:
    """`inputs` is (args, kwargs) of the recorded call; `grad` [N, T, d] of output[0]."""
    args, kwargs = inputs
    n_rows = grad.shape[0]
    names = replayed_parameters(module)
    per_row: dict[str, list[torch.Tensor]] = {name: [] for name in names}
    with torch.enable_grad():
        for n in range(n_rows):
            weights = {name: module.get_parameter(name).detach().requires_grad_() for name in names}
            out = functional_call(module, weights, _row(args, n, n_rows), _row(kwargs, n, n_rows))
            out = out[0] if isinstance(out, tuple) else out
            dot = (out.reshape(grad[n].shape) * grad[n]).sum()
            grads = torch.autograd.grad(dot, [weights[name] for name in names], allow_unused=True)
            for name, g in zip(names, grads, strict=True):
                per_row[name].append(torch.zeros_like(weights[name]) if g is None else g)
    return {name: SummedUse(torch.stack(rows)) for name, rows in per_row.items()}
