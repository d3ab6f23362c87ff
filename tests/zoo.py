"""The model zoo: every causal-LM type transformers ships, built offline from a shrunk config and
checked against the per-sample autograd oracle (issue 16). One source for the test
(tests/attribution_engine/test_zoo.py) and for the table in docs/models.md:

    .venv/bin/python tests/zoo.py --write

Each type ends in one of four outcomes: "pass" (order 1 and order 2 equal the oracle to 1e-6
relative, with padding, -100 labels and targets shorter than the rows), "refused" (the engine
raised its own documented error before any value), "cannot build" (transformers cannot build or
run it offline from a shrunk config), or "WRONG" (a value off the oracle, or a crash that is not
the engine's error): the test allows none.
"""

from __future__ import annotations

import re
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))  # run as a script: oracle, tiny_models

from oracle import first_order, per_sample_grads, rel_err, second_order, target_grads
from tiny_models import VOCAB, _perturb, make_batch, make_targets

from attribution_engine.errors import AttributionInputError, UnsupportedModuleError
from attribution_engine.step import step_values

LR = 0.1
TOLERANCE = 1e-6
# Gemma 4 Unified computes its norms and attention in float32 even in a float64 model; its
# second derivatives carry that rounding (measured 5e-6 relative on the interaction term).
ORDER_TWO_TOLERANCE = {"gemma4_unified": 1e-5, "gemma4_unified_text": 1e-5}
MAX_PARAMETERS = 2_000_000
ENGINE_ERRORS = (UnsupportedModuleError, AttributionInputError)

# Every size field a config may have, shrunk: 2 layers, width 16, 2 heads, 4 experts (2 routed).
SHRINK = dict(
    vocab_size=VOCAB,
    hidden_size=16,
    n_embd=16,
    d_model=16,
    embed_dim=16,
    n_layer=2,
    num_hidden_layers=2,
    num_layers=2,
    decoder_layers=2,
    encoder_layers=2,
    n_head=2,
    num_attention_heads=2,
    decoder_attention_heads=2,
    encoder_attention_heads=2,
    num_key_value_heads=2,
    head_dim=8,
    intermediate_size=32,
    ffn_dim=32,
    decoder_ffn_dim=32,
    encoder_ffn_dim=32,
    n_inner=32,
    moe_intermediate_size=16,
    shared_expert_intermediate_size=16,
    num_experts=4,
    num_local_experts=4,
    n_routed_experts=4,
    num_experts_per_tok=2,
    max_position_embeddings=64,
    n_positions=64,
    emb_dim=16,
    n_ctx=64,
    pad_token_id=0,
    bos_token_id=0,
    eos_token_id=1,
    decoder_start_token_id=0,
    use_cache=False,
    is_decoder=True,  # BERT-style models only predict the next token as decoders
    rotary_dim=4,
    kv_lora_rank=8,  # multi-head latent attention (DeepSeek family)
    q_lora_rank=8,
    qk_nope_head_dim=4,
    qk_rope_head_dim=4,
    qk_head_dim=8,
    v_head_dim=8,
    index_head_dim=8,
    index_n_heads=2,
    index_topk=4,
    linear_head_dim=8,
    vocab_size_per_layer_input=VOCAB,  # Gemma 4's per-layer embeddings
    hidden_size_per_layer_input=4,
    pronunciation_vocab_size=VOCAB,  # RoCBert's extra tables
    pronunciation_embed_dim=8,
    shape_vocab_size=VOCAB,
    shape_embed_dim=8,
    encoder_hash_byte_group_vocab=64,
    ffn_hidden_size=32,
    expert_ffn_hidden_size=16,
    zero_expert_num=1,
    first_k_dense_replace=1,  # DeepSeek-style: keep an MoE layer among the two
    n_group=1,  # grouped top-k routing over 4 experts
    topk_group=1,
)
# Fields whose default only fits the default depth.
OVERRIDES = {
    "gpt_neo": dict(attention_types=[[["global", "local"], 1]]),
    # Multi-head latent attention whose rotary part is sized by head_dim: equal to qk_rope_head_dim.
    **{name: dict(head_dim=4) for name in ("deepseek_v3", "axk1", "youtu")},
}


def shrunk_config(model_type: str):
    """The default config of `model_type` with every size field in SHRINK replaced and every
    dropout set to 0; sub-configs (a text config inside a multimodal one) shrunk alike."""
    from transformers import CONFIG_MAPPING

    return _shrink(CONFIG_MAPPING[model_type], OVERRIDES.get(model_type))


def _shrink(config_class, given: dict | None = None):
    default = config_class()
    keys = default.to_dict()
    kwargs = {k: v for k, v in SHRINK.items() if k in keys}
    kwargs.update(given or {})
    for key, value in keys.items():
        if isinstance(value, float) and ("dropout" in key or "pdrop" in key):
            kwargs[key] = 0.0
    from transformers import PretrainedConfig

    for key in getattr(config_class, "sub_configs", {}):
        sub = getattr(default, key, None)
        if isinstance(sub, PretrainedConfig):
            kwargs[key] = _shrink(type(sub)).to_dict()
    return config_class(**kwargs)


def build(model_type: str, seed: int = 0, tied: bool | None = None):
    """A float64 eager-attention model of `model_type` with perturbed weights, in train mode."""
    from transformers import AutoModelForCausalLM

    config = shrunk_config(model_type)
    if tied is not None:
        config.tie_word_embeddings = tied
    options = dict(attn_implementation="eager", experts_implementation="eager")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with torch.device("meta"):  # count first: a size field SHRINK misses could be huge
            size = sum(
                p.numel() for p in AutoModelForCausalLM.from_config(config, **options).parameters()
            )
        if size > MAX_PARAMETERS:
            raise ValueError(
                f"the shrunk config still has {size} parameters (a size field not in SHRINK)"
            )
        torch.manual_seed(seed)
        model = AutoModelForCausalLM.from_config(config, **options)
    return _perturb(model.double(), seed).train()


@dataclass(frozen=True)
class Outcome:
    model_type: str
    status: str  # "pass", "refused", "cannot build", "WRONG"
    detail: str  # the refusal's reason, the build error, or how far off


def check(model_type: str, orders: tuple[int, ...] = (1, 2), tied: bool | None = None) -> Outcome:
    """Build `model_type`, score one step, compare with the oracle: an Outcome. Runs with
    float64 as torch's default dtype: some models build constants with the default dtype
    (XGLM's mask fill), which must match the float64 weights."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        return _check(model_type, orders, tied)
    finally:
        torch.set_default_dtype(previous)


def _check(model_type: str, orders: tuple[int, ...], tied: bool | None) -> Outcome:
    batch, targets = make_batch(4, seed=11), make_targets(2, seed=12, t_max=6)
    try:
        model = build(model_type, tied=tied)
        with torch.no_grad():  # the model must run offline; the oracle waits for the engine
            model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
    except Exception as error:  # any failure to build or run offline
        return Outcome(model_type, "cannot build", _first_line(error))
    for order in orders:
        try:
            values = step_values(model, batch, targets, lr=LR, order=order)
        except ENGINE_ERRORS as error:
            return Outcome(model_type, "refused", _first_line(error))
        except Exception as error:  # a crash is not a documented refusal
            return Outcome(model_type, "WRONG", f"crashed: {type(error).__name__}: {error}")
        try:
            if order == 1:
                g_train = per_sample_grads(model, batch)
                expected = first_order(LR, g_train, target_grads(model, targets))
            else:
                expected = second_order(model, batch, targets, LR)
        except Exception as error:  # the oracle itself cannot differentiate this model
            return Outcome(model_type, "cannot build", "oracle: " + _first_line(error))
        error = rel_err(values, expected)
        if not error <= (
            TOLERANCE if order == 1 else ORDER_TWO_TOLERANCE.get(model_type, TOLERANCE)
        ):
            return Outcome(model_type, "WRONG", f"order {order}: relative error {error:.2e}")
    return Outcome(model_type, "pass", "")


_REFUSAL = re.compile(
    r"module '(?P<path>[^']+)' \((?:[\w.]+\.)?(?P<cls>\w+)\) holds trainable parameters "
    r"(?P<params>\[.*?\]) that the engine cannot score exactly: (?P<why>.*?)\. Freeze"
)


def _first_line(error: BaseException) -> str:
    """The table's detail: for a refusal, `path` (Class) [parameters]: why."""
    found = _REFUSAL.search(str(error))
    if found:
        return f"`{found['path']}` ({found['cls']}) {found['params']}: {found['why']}"[:400]
    text = str(error).strip().splitlines()
    first = text[0] if text else ""
    return f"{type(error).__name__}: {first}"[:240]


def model_types() -> list[str]:
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

    return sorted(MODEL_FOR_CAUSAL_LM_MAPPING_NAMES)


def markdown(outcomes: list[Outcome]) -> str:
    counts = {s: sum(o.status == s for o in outcomes) for s in ("pass", "refused", "cannot build")}
    wrong = sum(o.status == "WRONG" for o in outcomes)
    lines = [
        "| model type | outcome | detail |",
        "|---|---|---|",
        *(f"| `{o.model_type}` | {o.status} | {o.detail.replace('|', '/')} |" for o in outcomes),
    ]
    summary = (
        f"{counts['pass']} pass, {counts['refused']} refused, "
        f"{counts['cannot build']} cannot build, {wrong} silently wrong"
    )
    return summary + "\n\n" + "\n".join(lines) + "\n"


DOCS = Path(__file__).resolve().parents[1] / "docs" / "models.md"
BEGIN, END = "<!-- zoo table: begin (tests/zoo.py --write) -->", "<!-- zoo table: end -->"
SECTION = """## Every causal LM type: exact values or a clear refusal

Every type in transformers' `MODEL_FOR_CAUSAL_LM_MAPPING_NAMES` (transformers {version}), built
offline from a shrunk config (2 layers, width 16, 2 heads, 4 experts, a {vocab}-token
vocabulary, float64, eager attention, perturbed weights) and scored by `step_values` on 4
training rows (padding, -100 labels) against 2 shorter targets:

- **pass**: order 1 and order 2 equal the float64 per-sample autograd oracle to 1e-6 relative
  (Gemma 4 Unified: 1e-5 at order 2, as it computes norms and attention in float32 inside);
- **refused**: the engine raised its own documented error (`UnsupportedModuleError`) naming the
  module, its class, why, and what to do, before returning any value;
- **cannot build**: transformers could not build or run the type offline from a shrunk config
  (a missing optional package, a config whose defaults do not shrink);
- **WRONG**: a value off the oracle, or a crash that is not the engine's error.
  `tests/attribution_engine/test_zoo.py` allows none and checks this table.

Regenerate with `.venv/bin/python tests/zoo.py --write` (about two minutes on one core).

"""


def write_docs(outcomes: list[Outcome]) -> None:
    """Put the table in docs/models.md between the markers (appended the first time)."""
    import transformers

    section = SECTION.format(version=transformers.__version__, vocab=VOCAB) + markdown(outcomes)
    block = f"{BEGIN}\n{section}{END}\n"
    text = DOCS.read_text() if DOCS.exists() else "# Models\n"
    if BEGIN in text:
        text = text[: text.index(BEGIN)] + block + text[text.index(END) + len(END) + 1 :]
    else:
        text = text.rstrip("\n") + "\n\n" + block
    DOCS.write_text(text)


def documented() -> dict[str, str]:
    """Each type's outcome as docs/models.md shows it."""
    text = DOCS.read_text()
    table = text[text.index(BEGIN) : text.index(END)] if BEGIN in text else ""
    return dict(re.findall(r"^\| `([^`]+)` \| ([a-zA-Z ]+) \|", table, re.M))


if __name__ == "__main__":
    write = "--write" in sys.argv
    chosen = [a for a in sys.argv[1:] if a != "--write"] or model_types()
    torch.set_num_threads(1)
    results = []
    for name in chosen:
        outcome = check(name)
        print(f"{name}: {outcome.status} {outcome.detail}", file=sys.stderr, flush=True)
        results.append(outcome)
    if write:
        write_docs(results)
    print(markdown(results), end="")
