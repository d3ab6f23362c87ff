"""nn.Embedding (weight [num_embeddings, d]) and the transformers subclasses that read it
differently: scaled word embeddings and learned position tables that take positions, not ids.

Per token the weight gradient is onehot(id_t) (x) b_t, with b the output gradient [N, T, d];
tokens at padding_idx get no gradient. Position ids shared across rows ([1, T]) are expanded
to one copy per row by the capture, so each row keeps its own position gradient.
A scaled embedding returns s * E[id_t], so its b is s * the output gradient. A position table
looks up p_t + offset, with p_t computed inside its forward from the attention mask (OPT,
BioGPT: cumsum(mask) * mask - 1) or from the sequence length (Bart family: 0..T-1): the rules
recompute exactly the same positions from the captured inputs.
"""

import torch
from torch import nn

from attribution_engine.errors import UnsupportedModuleError
from attribution_engine.ghost.factors import Dense, OneHot
from attribution_engine.ghost.registry import as_tokens, register
from attribution_engine.ghost.uses import FactoredUse

# Every transformers class whose forward is exactly `super().forward(input_ids) * self.embed_scale`
# (optionally `.to(self.weight.dtype)`); tests/attribution_engine/test_embedding_rules.py reads
# each forward's source, so a transformers release that changes one fails by name.
_MODELS = "transformers.models"
SCALED_WORD_EMBEDDINGS = tuple(
    f"{_MODELS}.{path}"
    for path in (
        "bart.modeling_bart.BartScaledWordEmbedding",
        "bigbird_pegasus.modeling_bigbird_pegasus.BigBirdPegasusScaledWordEmbedding",
        "biogpt.modeling_biogpt.BioGptScaledWordEmbedding",
        "blenderbot.modeling_blenderbot.BlenderbotScaledWordEmbedding",
        "diffusion_gemma.modeling_diffusion_gemma.DiffusionGemmaTextScaledWordEmbedding",
        "embedding_gemma2.modeling_embedding_gemma2.EmbeddingGemma2TextScaledWordEmbedding",
        "gemma.modeling_gemma.GemmaTextScaledWordEmbedding",
        "gemma2.modeling_gemma2.Gemma2TextScaledWordEmbedding",
        "gemma3.modeling_gemma3.Gemma3TextScaledWordEmbedding",
        "gemma3n.modeling_gemma3n.Gemma3nTextScaledWordEmbedding",
        "gemma4.modeling_gemma4.Gemma4TextScaledWordEmbedding",
        "gemma4_unified.modeling_gemma4_unified.Gemma4UnifiedTextScaledWordEmbedding",
        "m2m_100.modeling_m2m_100.M2M100ScaledWordEmbedding",
        "mbart.modeling_mbart.MBartScaledWordEmbedding",
        "minicpm3.modeling_minicpm3.MiniCPM3ScaledWordEmbedding",
        "nllb_moe.modeling_nllb_moe.NllbMoeScaledWordEmbedding",
        "pegasus_x.modeling_pegasus_x.PegasusXScaledWordEmbedding",
        "plbart.modeling_plbart.PLBartScaledWordEmbedding",
        "pp_formulanet.modeling_pp_formulanet.PPFormulaNetScaledWordEmbedding",
        "seamless_m4t.modeling_seamless_m4t.SeamlessM4TScaledWordEmbedding",
        "seamless_m4t_v2.modeling_seamless_m4t_v2.SeamlessM4Tv2ScaledWordEmbedding",
        "trocr.modeling_trocr.TrOCRScaledWordEmbedding",
        "vaultgemma.modeling_vaultgemma.VaultGemmaTextScaledWordEmbedding",
        "xglm.modeling_xglm.XGLMScaledWordEmbedding",
    )
)
# forward(attention_mask, cache_length=0, position_ids=None): positions from the mask.
MASK_POSITION_TABLES = (
    f"{_MODELS}.opt.modeling_opt.OPTLearnedPositionalEmbedding",
    f"{_MODELS}.biogpt.modeling_biogpt.BioGptLearnedPositionalEmbedding",
)
# forward(input_ids, cache_length=0, position_ids=None): positions 0..T-1 for every row.
RANGE_POSITION_TABLES = tuple(
    f"{_MODELS}.{name}.modeling_{name}.{cls}LearnedPositionalEmbedding"
    for name, cls in (
        ("bart", "Bart"),
        ("mbart", "MBart"),
        ("plbart", "PLBart"),
        ("mvp", "Mvp"),
        ("trocr", "TrOCR"),
    )
)

# forward(input_shape, cache_length=0, position_ids=None) -> [T, d]: rows 0..T-1 of the table,
# with no row dimension (registered rowless: the capture expands it to one copy per row).
ROWLESS_POSITION_TABLES = (
    f"{_MODELS}.blenderbot.modeling_blenderbot.BlenderbotLearnedPositionalEmbedding",
    f"{_MODELS}.blenderbot_small.modeling_blenderbot_small.BlenderbotSmallLearnedPositionalEmbedding",
)
# forward(input_ids, cache_length=0, position_ids=None): weight[position_ids], which Whisper's
# decoder always passes as [N, T] (without them it returns a rowless [T, d] slice: refused).
GIVEN_POSITION_TABLES = (f"{_MODELS}.whisper.modeling_whisper.WhisperPositionalEmbedding",)


def _refuse(module: nn.Module) -> str | None:
    if module.max_norm is not None:
        return "max_norm renormalises the weight inside forward"
    if module.scale_grad_by_freq:
        return "scale_grad_by_freq makes a row's gradient depend on the other rows"
    if module.sparse:
        return "sparse gradients are not supported"
    return None


def _lookup_uses(
    module: nn.Module, ids: torch.Tensor, grad: torch.Tensor
) -> dict[str, FactoredUse]:
    """The weight's use when row n read rows ids[n, t] of the table with output gradient grad."""
    n = grad.shape[0]
    if ids.dim() < 2:
        raise UnsupportedModuleError(
            f"{type(module).__name__} was called on ids of shape {tuple(ids.shape)}, not "
            "[rows, tokens], so its lookups cannot be assigned to rows; freeze it "
            "(requires_grad_(False)) or pass ids with a batch dimension"
        )
    ids = ids.reshape(n, -1)  # N x T
    b = as_tokens(grad, n)  # N x T x d
    if module.padding_idx is not None:
        b = b * (ids != module.padding_idx).unsqueeze(-1).to(b.dtype)
    return {"weight": FactoredUse(OneHot(ids, module.num_embeddings), Dense(b))}


@register(nn.Embedding, params=("weight",), refuse=_refuse)
def embedding_uses(module: nn.Module, inputs: tuple[torch.Tensor, ...], grad: torch.Tensor):
    return _lookup_uses(module, inputs[0], grad)


@register(*SCALED_WORD_EMBEDDINGS, params=("weight",), refuse=_refuse)
def scaled_embedding_uses(module: nn.Module, inputs: tuple[torch.Tensor, ...], grad: torch.Tensor):
    """out = s * E[id]: the gradient reaching E is s times the output's (s as forward casts it)."""
    scale = torch.as_tensor(module.embed_scale).to(module.weight.dtype).to(grad.dtype)
    return _lookup_uses(module, inputs[0], grad * scale)


@register(*MASK_POSITION_TABLES, params=("weight",), refuse=_refuse)
def mask_position_uses(module: nn.Module, inputs: tuple[torch.Tensor, ...], grad: torch.Tensor):
    """Inputs (attention_mask [N, T]) or (attention_mask, position_ids [N, T]), as forward gets
    them; positions cumsum(mask) * mask - 1 when not given (no cache: the engine passes none)."""
    mask = inputs[0]
    given = inputs[1] if len(inputs) > 1 else None
    positions = (torch.cumsum(mask, dim=1) * mask - 1).long() if given is None else given
    return _lookup_uses(module, positions + module.offset, grad)


@register(*RANGE_POSITION_TABLES, params=("weight",), refuse=_refuse)
def range_position_uses(module: nn.Module, inputs: tuple[torch.Tensor, ...], grad: torch.Tensor):
    """Inputs (input_ids [N, T]), every row reading positions 0..T-1 (+ offset; no cache), or
    (input_ids, position_ids [T]), which forward broadcasts over rows as [1, T]."""
    n, t = grad.shape[:2]
    if len(inputs) == 1:
        positions = torch.arange(t, device=grad.device).expand(n, t)
    elif inputs[1].dim() == 1:
        positions = inputs[1].expand(n, t)
    else:
        raise UnsupportedModuleError(
            f"{type(module).__name__} got position_ids of shape {tuple(inputs[1].shape)}; it "
            "reads them as one [1, ...] table for every row, which has no per-row rule here. "
            "Pass position_ids of shape [T], or none"
        )
    return _lookup_uses(module, positions + module.offset, grad)


@register(*ROWLESS_POSITION_TABLES, params=("weight",), refuse=_refuse, rowless=True)
def rowless_position_uses(module: nn.Module, inputs: tuple[torch.Tensor, ...], grad: torch.Tensor):
    """Every row reads rows 0..T-1 of the table (no cache), or the position_ids [T] given;
    grad arrives as [N, T, d]."""
    n, t = grad.shape[:2]
    if not inputs:
        return _lookup_uses(module, torch.arange(t, device=grad.device).expand(n, t), grad)
    if inputs[0].dim() != 1:
        raise UnsupportedModuleError(
            f"{type(module).__name__} got position_ids of shape {tuple(inputs[0].shape)}; it "
            "is registered for one [T] table shared by every row. Pass position_ids of shape "
            "[T], or none"
        )
    return _lookup_uses(module, inputs[0].expand(n, t), grad)


@register(*GIVEN_POSITION_TABLES, params=("weight",), refuse=_refuse)
def given_position_uses(module: nn.Module, inputs: tuple[torch.Tensor, ...], grad: torch.Tensor):
    """Inputs (input_ids, position_ids [N, T]): row n reads weight[position_ids[n]]."""
    if len(inputs) < 2 or inputs[1].dim() != 2:
        raise UnsupportedModuleError(
            f"{type(module).__name__} was called without per-row position_ids [N, T], so it "
            "returned one [T, d] slice for every row, which has no per-row rule here; call the "
            "decoder the way the model's own forward does (it passes position_ids)"
        )
    return _lookup_uses(module, inputs[1], grad)
