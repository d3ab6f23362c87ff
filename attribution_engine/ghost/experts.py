"""Mixture of experts: top-k routers and fused expert weights ([E, ...] 3-D parameters).

The MoE blocks of transformers 5 flatten their input to [B*T, d], route every token to K of E
experts (router -> top_k_index [B*T, K], top_k_weights [B*T, K]) and call one experts module
whose weights hold all experts at once. The capture hands these calls to the rules as rows:
x [N, T, d], index and weights [N, T, K], output gradient b [N, T, d].

Experts. Per token t and chosen slot k (expert e, routing weight w), with p = W_up[e] x_t (+ bias),
a = gate(p), o = W_down[e] a (+ bias) and out_t += w o:
  grad of o: g_o = w b_t;  of a: g_a = W_down[e]^T g_o;  of p: g_p = gate'(p)^T g_a,
  W_down[e] += g_o (x) a,  W_up[e] += g_p (x) x_t,  biases[e] += g_o and g_p.
Each outer product lands in expert e's slice only: a Routed factor (width E*r, zero outside
block e) times a dense one, in the [E*r, c] frame, with T*K (token, slot) pairs as its tokens.
Two rows' slots then meet only on the same expert: the Gram is (e_i == e_j) (x_i . x_j).
p and a are recomputed from the captured input with the module's own gate (pure, exact).

Routers return (router_logits, scores, indices); every path from the router weight to the loss
(scores, and the logits themselves when returned) runs through router_logits = x W^T (+ bias),
so the rule is a linear layer's, on the gradient of router_logits.

Dimension legend: N rows, T tokens, K experts per token, S = T*K slots, E experts, d hidden,
I intermediate (2I for a fused gate and up projection).
"""

import importlib

import torch
from torch import nn
from torch.func import vjp

from attribution_engine.ghost.factors import Dense, OneHot, Routed
from attribution_engine.ghost.registry import as_tokens, register
from attribution_engine.ghost.uses import FactoredUse, SummedUse, Use

# transformers 5 model type: (its experts class, its router class, or None where the router is
# an nn.Linear that the linear rule scores). Each family is checked against the per-sample
# oracle in tests/attribution_engine/test_moe.py before it is listed here. Left out: PhiMoE
# (its training router samples, so no two forwards route alike).
FAMILIES = {
    "mixtral": ("MixtralExperts", "MixtralTopKRouter"),
    "qwen2_moe": ("Qwen2MoeExperts", "Qwen2MoeTopKRouter"),
    "qwen3_moe": ("Qwen3MoeExperts", "Qwen3MoeTopKRouter"),
    "olmoe": ("OlmoeExperts", "OlmoeTopKRouter"),
    "gpt_oss": ("GptOssExperts", "GptOssTopKRouter"),
    "afmoe": ("AfmoeExperts", None),
    "cohere2_moe": ("Cohere2MoeExperts", "Cohere2MoeTopKRouter"),
    "deepseek_v2": ("DeepseekV2Experts", "DeepseekV2TopkRouter"),
    "ernie4_5_moe": ("Ernie4_5_MoeExperts", "Ernie4_5_MoeTopKRouter"),
    "exaone_moe": ("ExaoneMoeExperts", "ExaoneMoeTopkRouter"),
    "flex_olmo": ("FlexOlmoExperts", "FlexOlmoTopKRouter"),
    "glm4_moe": ("Glm4MoeExperts", "Glm4MoeTopkRouter"),
    "glm4_moe_lite": ("Glm4MoeLiteExperts", "Glm4MoeLiteTopkRouter"),
    "granitemoe": ("GraniteMoeExperts", "GraniteMoeTopKRouter"),
    "granitemoeshared": ("GraniteMoeSharedExperts", "GraniteMoeSharedTopKRouter"),
    "hunyuan_v1_moe": ("HunYuanMoEV1Experts", None),
    "minimax": ("MiniMaxExperts", "MiniMaxTopKRouter"),
    "solar_open": ("SolarOpenExperts", "SolarOpenTopkRouter"),
}


def _classes(index: int) -> tuple[type[nn.Module], ...]:
    out = []
    for model_type, names in FAMILIES.items():
        if names[index] is not None:
            module = importlib.import_module(
                f"transformers.models.{model_type}.modeling_{model_type}"
            )
            out.append(getattr(module, names[index]))
    return tuple(out)


EXPERTS = _classes(0)
ROUTERS = _classes(1)
EXPERT_PARAMS = (
    "gate_up_proj",
    "gate_up_proj_bias",
    "up_proj",
    "up_proj_bias",
    "down_proj",
    "down_proj_bias",
)


def _refuse_experts(module: nn.Module) -> str | None:
    config = module.config
    if getattr(config, "output_router_logits", False) and getattr(
        config, "router_aux_loss_coef", 0.0
    ):
        return (
            f"the model's config sets output_router_logits=True with router_aux_loss_coef="
            f"{config.router_aux_loss_coef}: the router's load-balancing loss couples every "
            "row through the batch's expert counts, and the engine optimises the token "
            "cross-entropy only, so that loss would silently not be trained; set "
            "config.output_router_logits = False (or router_aux_loss_coef = 0) to train "
            "without it"
        )
    if module._is_expert_parallel:
        return "expert parallelism is not supported: run the experts on one device"
    if module.has_post_expert_norm:
        return "experts with a norm after each expert have no rule yet; freeze them"
    return None


@register(*EXPERTS, params=EXPERT_PARAMS, refuse=_refuse_experts)
def experts_uses(
    module: nn.Module, inputs: tuple[torch.Tensor, ...], grad: torch.Tensor
) -> dict[str, Use]:
    x, index, weights = inputs[:3]  # N x T x d, N x T x K, N x T x K
    n, t, k = index.shape
    d, s = x.shape[-1], t * k
    experts = module.num_experts
    slot_x = x.unsqueeze(2).expand(n, t, k, d).reshape(n * s, d)  # (N S) x d
    slot_e = index.reshape(n * s)
    g_o = (grad.unsqueeze(2) * weights.unsqueeze(-1)).reshape(n * s, d)  # w_k b_t
    up_name = "gate_up_proj" if module.has_gate else "up_proj"
    # In the captures' dtype: a half-precision model's are widened to float32 (capture.py).
    up = getattr(module, up_name).detach().to(x.dtype)
    down = module.down_proj.detach().to(x.dtype)
    up_bias = getattr(module, f"{up_name}_bias").detach().to(x.dtype) if module.has_bias else None
    p = _per_expert(slot_x, slot_e, lambda e, rows: _linear(module, rows, up[e], up_bias, e))
    gate = module._apply_gate if module.has_gate else module.act_fn
    a, pull = vjp(gate, p)  # (N S) x I
    g_a = _per_expert(g_o, slot_e, lambda e, rows: _linear_back(module, rows, down[e]))
    (g_p,) = pull(g_a)  # (N S) x (2I or I)
    uses: dict[str, Use] = {
        up_name: _routed(module, slot_e, n, x_side=slot_x, grad_side=g_p),
        "down_proj": _routed(module, slot_e, n, x_side=a, grad_side=g_o),
    }
    if module.has_bias:
        one_hot = OneHot(slot_e.view(n, s), experts)
        uses[f"{up_name}_bias"] = FactoredUse(one_hot, Dense(g_p.view(n, s, -1)))
        uses["down_proj_bias"] = FactoredUse(one_hot, Dense(g_o.view(n, s, -1)))
    return uses


def _per_expert(rows: torch.Tensor, experts: torch.Tensor, fn) -> torch.Tensor:
    """fn(e, rows routed to e) for every expert hit, written back in slot order."""
    out = None
    for e in experts.unique().tolist():
        slots = (experts == e).nonzero().squeeze(1)
        part = fn(e, rows[slots])
        if out is None:
            out = part.new_empty(rows.shape[0], part.shape[-1])
        out[slots] = part
    return out


def _linear(module: nn.Module, rows: torch.Tensor, weight: torch.Tensor, bias, e: int):
    """rows -> rows W^T (+ bias[e]); W [out, in], or [in, out] when the experts store it
    transposed (GPT-OSS)."""
    out = rows @ weight if module.is_transposed else rows @ weight.T
    return out if bias is None else out + bias[e]


def _linear_back(module: nn.Module, grads: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Gradient of a linear map's input from its output gradients."""
    return grads @ weight.T if module.is_transposed else grads @ weight


def _routed(
    module: nn.Module,
    experts: torch.Tensor,
    n: int,
    *,
    x_side: torch.Tensor,
    grad_side: torch.Tensor,
) -> FactoredUse:
    """Per slot, grad_side (x) x_side in expert e's slice of a weight [E, out, in], or
    x_side (x) grad_side when the experts store it [E, in, out]."""
    index = experts.view(n, -1)  # N x S
    first, second = (x_side, grad_side) if module.is_transposed else (grad_side, x_side)
    left = Routed(index, first.reshape(n, index.shape[1], -1), module.num_experts)
    return FactoredUse(left, Dense(second.reshape(n, index.shape[1], -1)))


@register(*ROUTERS, params=("weight", "bias"), output=0)
def router_uses(
    module: nn.Module, inputs: tuple[torch.Tensor, ...], grad: torch.Tensor
) -> dict[str, Use]:
    """`grad` is the gradient of router_logits [N, T, E]: a linear layer's rule."""
    n = grad.shape[0]
    a, b = as_tokens(inputs[0], n), as_tokens(grad, n)  # N x T x d, N x T x E
    # DeepSeek-style routers compute their logits in float32 whatever the model's dtype: both
    # factors are taken in the wider of the two (the float32 rounding autograd adds is ~1e-7).
    dtype = torch.promote_types(a.dtype, b.dtype)
    a, b = a.to(dtype), b.to(dtype)
    uses: dict[str, Use] = {"weight": FactoredUse(Dense(b), Dense(a))}
    if getattr(module, "bias", None) is not None:
        uses["bias"] = SummedUse(b.sum(dim=1))
    return uses
