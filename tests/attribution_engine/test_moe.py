"""Mixture of experts (ghost/experts.py): routers and fused 3-D expert weights, per family.

Rule level: one MoE block called on [N, T, d], its experts' and router's recorded calls viewed as
rows, each rule's per-row gradients against per-row autograd, and every strategy's dot products
against the materialised ones. Step level: step_values against the float64 oracle (padding,
-100 labels, V in {1, 3}, order 1 and 2). A configuration the engine cannot score exactly (the
router's auxiliary loss) is refused by name.
"""

import pytest
import torch
from oracle import (
    adam_denominator,
    first_order,
    n_label_tokens,
    per_sample_grads,
    rel_err,
    second_order,
    target_grads,
    token_losses,
)
from oracle_cases import STRATEGIES
from tiny_models import VOCAB, make_batch, make_targets, pad_to
from transformers import (
    GptOssConfig,
    GptOssForCausalLM,
    MixtralConfig,
    MixtralForCausalLM,
    OlmoeConfig,
    OlmoeForCausalLM,
    Qwen2MoeConfig,
    Qwen2MoeForCausalLM,
    Qwen3MoeConfig,
    Qwen3MoeForCausalLM,
)

from attribution_engine import AttributionConfig, InRunAttributor, Strategy, step_values
from attribution_engine.errors import UnsupportedModuleError
from attribution_engine.ghost import Scale, parameter_values
from attribution_engine.ghost.experts import FAMILIES as REGISTERED
from attribution_engine.ghost.experts import experts_uses, router_uses
from attribution_engine.ghost.uses import materialise_sum

LR = 0.1
# Four experts, two per token, two layers: every expert is hit by a few tokens of a batch.
_COMMON = dict(
    vocab_size=VOCAB,
    hidden_size=16,
    num_hidden_layers=2,
    num_attention_heads=2,
    num_key_value_heads=1,
    max_position_embeddings=32,
    tie_word_embeddings=False,
    bos_token_id=0,
    eos_token_id=1,
    attn_implementation="eager",
    experts_implementation="eager",  # grouped_mm has no float64 kernel on CPU
)


def _configs():
    return {
        "mixtral": MixtralConfig(
            **_COMMON,
            intermediate_size=12,
            num_local_experts=4,
            num_experts_per_tok=2,
            router_jitter_noise=0.0,
        ),
        "qwen2_moe": Qwen2MoeConfig(
            **_COMMON,
            intermediate_size=12,
            moe_intermediate_size=8,
            shared_expert_intermediate_size=12,
            num_experts=4,
            num_experts_per_tok=2,
            norm_topk_prob=False,
        ),
        "qwen3_moe": Qwen3MoeConfig(
            **_COMMON,
            head_dim=8,
            intermediate_size=12,
            moe_intermediate_size=8,
            num_experts=4,
            num_experts_per_tok=2,
            norm_topk_prob=True,
        ),
        "olmoe": OlmoeConfig(**_COMMON, intermediate_size=8, num_experts=4, num_experts_per_tok=2),
        "gpt_oss": GptOssConfig(
            **_COMMON,
            head_dim=8,
            intermediate_size=8,
            num_local_experts=4,
            num_experts_per_tok=2,
            sliding_window=8,
            layer_types=["sliding_attention", "full_attention"],
            rope_parameters={"rope_type": "default", "rope_theta": 10000.0},
        ),
    }


_MODELS = {
    "mixtral": MixtralForCausalLM,
    "qwen2_moe": Qwen2MoeForCausalLM,
    "qwen3_moe": Qwen3MoeForCausalLM,
    "olmoe": OlmoeForCausalLM,
    "gpt_oss": GptOssForCausalLM,
}
FAMILIES = list(_MODELS)


def moe_model(family: str, seed: int = 0, **overrides):
    """A tiny float64 MoE causal LM, every parameter perturbed off its initial value.

    GPT-OSS's attention sinks (a per-head parameter of its attention module) are frozen: they
    are another rule's business; everything of its MoE trains.
    """
    torch.manual_seed(seed)
    config = _configs()[family]
    for key, value in overrides.items():
        setattr(config, key, value)
    model = _MODELS[family](config).double()
    g = torch.Generator().manual_seed(seed + 1000)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=g, dtype=p.dtype))
    for name, p in model.named_parameters():
        if name.endswith(".sinks"):
            p.requires_grad_(False)
    return model


def _block(model):
    mlp = model.model.layers[0].mlp
    return mlp, mlp.experts, getattr(mlp, "gate", None) or mlp.router


def _record_block(model, x: torch.Tensor, probe: torch.Tensor):
    """Call layer 0's MoE block on x [N, T, d]; backward of sum(out * probe). Returns the
    experts' and router's calls as rows: (inputs, output gradient) each, [N, T, ...]."""
    mlp, experts, router = _block(model)
    n, t = x.shape[:2]
    seen = {}

    def keep(key, index=None):
        def hook(module, args, out):
            tensor = out if index is None else out[index]
            seen[key] = [tuple(a.detach() for a in args), None]
            tensor.register_hook(lambda g: seen[key].__setitem__(1, g))

        return hook

    handles = [
        experts.register_forward_hook(keep("experts")),
        router.register_forward_hook(keep("router", 0)),
    ]
    try:
        out = mlp(x)
        out = out[0] if isinstance(out, tuple) else out
        (out * probe).sum().backward()
    finally:
        for h in handles:
            h.remove()

    def rows(call):
        inputs, grad = call
        return tuple(a.reshape(n, t, *a.shape[1:]) for a in inputs), grad.reshape(n, t, -1)

    return rows(seen["experts"]), rows(seen["router"])


def _per_row_grads(model, x, probe):
    """{module.param: [N, *shape]} by autograd, one row at a time."""
    mlp, experts, router = _block(model)
    named = [(f"experts.{k}", p) for k, p in experts.named_parameters()]
    named += [(f"router.{k}", p) for k, p in router.named_parameters()]
    out = {name: [] for name, _ in named}
    for i in range(x.shape[0]):
        o = mlp(x[i : i + 1])
        o = o[0] if isinstance(o, tuple) else o
        grads = torch.autograd.grad((o * probe[i : i + 1]).sum(), [p for _, p in named])
        for (name, _), g in zip(named, grads, strict=True):
            out[name].append(g)
    return {name: torch.stack(g) for name, g in out.items()}, dict(named)


def _rule_uses(model, x, probe):
    (e_in, e_grad), (r_in, r_grad) = _record_block(model, x, probe)
    _, experts, router = _block(model)
    uses = {f"experts.{k}": u for k, u in experts_uses(experts, e_in, e_grad).items()}
    uses |= {f"router.{k}": u for k, u in router_uses(router, r_in, r_grad).items()}
    return uses


@pytest.mark.parametrize("family", FAMILIES)
def test_rules_give_each_rows_gradient(family):
    """Every expert weight (and bias) and the router: per-row gradients exact, uncovered none."""
    model = moe_model(family)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(3, 5, 16, generator=g, dtype=torch.float64)
    probe = torch.randn(3, 5, 16, generator=g, dtype=torch.float64)
    uses = _rule_uses(model, x, probe)
    want, params = _per_row_grads(model, x, probe)
    assert set(uses) == set(want)
    for name, use in uses.items():
        got = materialise_sum([use], params[name].shape)
        assert rel_err(got, want[name]) <= 1e-12, name


@pytest.mark.parametrize("strategy", STRATEGIES, ids=lambda s: s.name)
@pytest.mark.parametrize("family", ["mixtral", "gpt_oss"])
def test_strategies_dot_routed_uses_exactly(family, strategy):
    """Gram (same-expert masked token pairs), target matrices and per-sample materialisation of
    routed uses all give <G_i, G_v> of the materialised gradients, with a per-coordinate scale."""
    model = moe_model(family)
    g = torch.Generator().manual_seed(2)
    x, probe = (torch.randn(4, 5, 16, generator=g, dtype=torch.float64) for _ in range(2))
    x_v, probe_v = (torch.randn(3, 4, 16, generator=g, dtype=torch.float64) for _ in range(2))
    train, target = _rule_uses(model, x, probe), _rule_uses(model, x_v, probe_v)
    _, params = _per_row_grads(model, x[:1], probe[:1])
    for name, param in params.items():
        shape = param.shape
        rows = torch.rand(shape[0], generator=g, dtype=torch.float64) if param.dim() == 2 else None
        scale = Scale(0.3, rows=rows)
        g_i = materialise_sum([train[name]], shape)  # [B, *shape]
        g_v = materialise_sum([target[name]], shape)
        if rows is not None:
            g_v = g_v * rows.reshape(1, -1, 1)
        want = 0.3 * g_i.reshape(4, -1) @ g_v.reshape(3, -1).T
        got = parameter_values([train[name]], [target[name]], scale, shape, None, strategy, 3)
        assert rel_err(got, want) <= 1e-12, name


def case(family: str, n_targets: int, order: int = 1, **overrides):
    model = moe_model(family, seed=3, **overrides)
    batch, targets = make_batch(6, seed=11), make_targets(n_targets, seed=12)
    if order == 1:
        expected = first_order(LR, per_sample_grads(model, batch), target_grads(model, targets))
    else:
        expected = second_order(model, batch, targets, LR)
    return model, batch, targets, expected


@pytest.mark.parametrize("n_targets", [1, 3])
@pytest.mark.parametrize("family", FAMILIES)
def test_first_order_matches_oracle(family, n_targets):
    """Padding, -100 labels, variable lengths; AUTO strategy."""
    model, batch, targets, expected = case(family, n_targets)
    values = step_values(model, batch, targets, lr=LR, order=1)
    assert rel_err(values, expected) <= 1e-6


@pytest.mark.parametrize("strategy", [Strategy.GRAM, Strategy.TARGET, Strategy.PER_SAMPLE])
def test_every_strategy_matches_oracle(strategy):
    model, batch, targets, expected = case("qwen2_moe", 3)
    values = step_values(model, pad_to(batch, 14), targets, lr=LR, strategy=strategy)
    assert rel_err(values, expected) <= 1e-6


@pytest.mark.parametrize("family", ["mixtral", "qwen2_moe", "gpt_oss"])
def test_second_order_matches_oracle(family):
    model, batch, targets, expected = case(family, 2, order=2)
    values = step_values(model, batch, targets, lr=LR, order=2)
    # The routers' softmax runs in float32 inside the float64 model (as in Llama's norms).
    assert rel_err(values, expected) <= 1e-6


@pytest.mark.parametrize("family", ["mixtral", "olmoe"])
def test_router_aux_loss_is_refused(family):
    """output_router_logits with a non-zero coefficient: a load-balancing loss the engine would
    not train; refused by name before anything runs, the model untouched."""
    model = moe_model(family, output_router_logits=True, router_aux_loss_coef=0.02)
    batch, targets = make_batch(2, seed=1), make_targets(1, seed=2)
    before = [p.detach().clone() for p in model.parameters()]
    with pytest.raises(UnsupportedModuleError, match="output_router_logits") as err:
        step_values(model, batch, targets, lr=LR)
    assert "experts" in str(err.value)
    assert all(torch.equal(b, p) for b, p in zip(before, model.parameters(), strict=True))
    assert all(p.grad is None for p in model.parameters())


# The other registered families, each built from its default config with every size shrunk.
_SHRINK = dict(
    vocab_size=VOCAB,
    hidden_size=16,
    num_hidden_layers=2,
    num_attention_heads=2,
    num_key_value_heads=2,
    head_dim=8,
    intermediate_size=32,
    moe_intermediate_size=16,
    shared_expert_intermediate_size=16,
    num_experts=4,
    num_local_experts=4,
    n_routed_experts=4,
    num_experts_per_tok=2,
    max_position_embeddings=64,
    pad_token_id=0,
    bos_token_id=0,
    eos_token_id=1,
    use_cache=False,
)
OTHERS = [t for t in REGISTERED if t not in FAMILIES]


def shrunk_model(model_type: str, seed: int = 3):
    """A float64 model of `model_type` from its default config, sizes shrunk, dropout 0."""
    from transformers import CONFIG_MAPPING, AutoModelForCausalLM

    config_class = CONFIG_MAPPING[model_type]
    keys = config_class().to_dict()
    kwargs = {k: v for k, v in _SHRINK.items() if k in keys}
    kwargs |= {k: 0.0 for k, v in keys.items() if isinstance(v, float) and "dropout" in k}
    config = config_class(**kwargs)
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(
        config, attn_implementation="eager", experts_implementation="eager"
    )
    model = model.double().train()
    g = torch.Generator().manual_seed(seed + 1000)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=g, dtype=p.dtype))
    return model


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("model_type", OTHERS)
def test_other_registered_families_match_oracle(model_type):
    """Order 1 and 2, padding, -100 labels, targets shorter than the rows."""
    model = shrunk_model(model_type)
    batch, targets = make_batch(4, seed=11), make_targets(2, seed=12, t_max=6)
    g_train = per_sample_grads(model, batch)
    expected = first_order(LR, g_train, target_grads(model, targets))
    assert rel_err(step_values(model, batch, targets, lr=LR), expected) <= 1e-6
    expected = second_order(model, batch, targets, LR)
    assert rel_err(step_values(model, batch, targets, lr=LR, order=2), expected) <= 1e-6


@pytest.mark.parametrize("family", ["mixtral", "gpt_oss"])
def test_adam_aware_step_matches_oracle_and_leaks_nothing(family):
    """InRunAttributor with AdamW (Adam's exact per-coordinate scale on 3-D expert weights, and
    on the 2-D expert biases): two steps' values equal lr g_i / (sqrt(v_hat) + eps) . g_v, and
    the weights equal those of plain steps without targets."""
    model, plain = moe_model(family, seed=5), moe_model(family, seed=5)
    params = [p for p in model.parameters() if p.requires_grad]
    plain_params = [p for p in plain.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-2, weight_decay=0.1)
    plain_opt = torch.optim.AdamW(plain_params, lr=1e-2, weight_decay=0.1)
    targets = make_targets(2, seed=31)
    with InRunAttributor(model, opt, targets, AttributionConfig()) as attributor:
        for step in range(2):
            batch = make_batch(5, seed=32 + step)
            g_train, g_v = per_sample_grads(model, batch), target_grads(model, targets)
            values = attributor.step(batch).values
            plain_opt.zero_grad(set_to_none=True)
            n = int((batch["labels"][:, 1:] != -100).sum())
            (token_losses(plain, batch).sum() / n).backward()
            plain_opt.step()
            for mine, theirs in zip(params, plain_params, strict=True):
                assert torch.allclose(mine, theirs, rtol=0, atol=1e-10), f"step {step}: leaked"
            expected = 1e-2 * (g_train / adam_denominator(opt, params)) @ g_v.T
            assert rel_err(values, expected) <= 1e-6, f"step {step}"


@pytest.mark.parametrize("family", ["mixtral", "gpt_oss"])
def test_bf16_model_scores_in_fp32(family):
    """A bf16 MoE (captures widened to fp32, expert weights cast to match): within bf16 rounding
    of the row-by-row oracle on the same model, as for dense models (test_precision.py)."""
    model = moe_model(family).to(torch.bfloat16)
    batch, targets = make_batch(4, seed=1), make_targets(2, seed=2)
    values = step_values(model, batch, targets, lr=1e-2)
    g_train = per_sample_grads(model, batch).float()
    expected = (1e-2 * g_train @ target_grads(model, targets).float().T).double()
    assert rel_err(values, expected) < 5e-2


def test_router_jitter_values_are_those_of_the_noise_drawn():
    """Mixtral's training-time jitter multiplies the block's input in place by fresh noise:
    values equal the per-row gradients of that very forward (one batched forward, same seed,
    each row's loss differentiated alone), to 1e-6."""
    model = moe_model("mixtral", seed=3, router_jitter_noise=0.2).train()
    batch, targets = make_batch(6, seed=11), make_targets(2, seed=12)
    g_v = target_grads(model, targets)
    torch.manual_seed(0)  # the target pass runs in eval mode and draws no noise
    values = step_values(model, batch, targets, lr=LR)
    torch.manual_seed(0)
    params = [p for p in model.parameters() if p.requires_grad]
    losses = token_losses(model, batch).sum(1) / n_label_tokens(batch)
    rows = []
    for loss in losses:
        grads = torch.autograd.grad(loss, params, retain_graph=True, allow_unused=True)
        pairs = zip(grads, params, strict=True)
        rows.append(
            torch.cat([(torch.zeros_like(p) if g is None else g).flatten() for g, p in pairs])
        )
    assert rel_err(values, LR * torch.stack(rows) @ g_v.T) <= 1e-6
