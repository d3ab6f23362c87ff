"""Tiny float64 causal language models and batch builders for the oracle tests.

Every builder seeds itself, sets all dropout to 0 and perturbs every parameter away from its
initial value (norm weights away from 1, biases and LoRA B away from 0) so that no gradient term is
trivially zero. Nothing is downloaded: models are built from configs.

Dimension legend: B train rows, V target rows, T tokens.
"""

from __future__ import annotations

import torch
from torch import nn
from transformers import (
    GPT2Config,
    GPT2LMHeadModel,
    GPTNeoXConfig,
    GPTNeoXForCausalLM,
    LlamaConfig,
    LlamaForCausalLM,
)

VOCAB = 40
MAX_T = 32


def _perturb(model: nn.Module, seed: int, scale: float = 0.05) -> nn.Module:
    """Add small seeded noise to every parameter (tied ones once), in place."""
    g = torch.Generator().manual_seed(seed + 1000)
    with torch.no_grad():
        for p in model.parameters():  # .parameters() yields a tied weight once
            p.add_(scale * torch.randn(p.shape, generator=g, dtype=p.dtype))
    return model


def gpt2(seed: int = 0, n_embd: int = 16, n_layer: int = 2, vocab: int = VOCAB, n_pos: int = MAX_T):
    """GPT-2: tied wte/lm_head, learned position embeddings, Conv1D layers, LayerNorm."""
    torch.manual_seed(seed)
    cfg = GPT2Config(
        vocab_size=vocab,
        n_positions=n_pos,
        n_embd=n_embd,
        n_layer=n_layer,
        n_head=2,
        resid_pdrop=0.0,
        embd_pdrop=0.0,
        attn_pdrop=0.0,
        bos_token_id=0,
        eos_token_id=1,
        attn_implementation="eager",
    )
    model = GPT2LMHeadModel(cfg).double()
    assert model.lm_head.weight is model.transformer.wte.weight
    return _perturb(model, seed)


def gpt2_micro(seed: int = 0):
    """The tiniest GPT-2 (a few hundred parameters): small enough for an explicit Hessian."""
    return gpt2(seed, n_embd=4, n_layer=1, vocab=10, n_pos=12)


# The one size Llama and GPT-NeoX share here (GPT-2 names its fields otherwise): untied, no
# dropout, eager attention.
_DECODER = dict(
    vocab_size=VOCAB,
    hidden_size=16,
    intermediate_size=32,
    num_hidden_layers=2,
    num_attention_heads=2,
    max_position_embeddings=MAX_T,
    tie_word_embeddings=False,
    attention_dropout=0.0,
    bos_token_id=0,
    eos_token_id=1,
    attn_implementation="eager",
)


def llama(seed: int = 0):
    """Llama-style: RMSNorm, rotary positions, grouped-query attention, untied lm_head."""
    torch.manual_seed(seed)
    cfg = LlamaConfig(**_DECODER, num_key_value_heads=1, head_dim=8)
    return _perturb(LlamaForCausalLM(cfg).double(), seed)


def neox(seed: int = 0):
    """GPT-NeoX-style: fused query_key_value with bias, parallel residual, partial rotary."""
    torch.manual_seed(seed)
    cfg = GPTNeoXConfig(**_DECODER, hidden_dropout=0.0, use_parallel_residual=True)
    return _perturb(GPTNeoXForCausalLM(cfg).double(), seed)


def perturb_adapters(model: nn.Module, seed: int) -> nn.Module:
    """Add seeded noise to the trainable parameters only (LoRA A, and B away from 0), in place."""
    g = torch.Generator().manual_seed(seed + 7)
    with torch.no_grad():
        for p in model.parameters():
            if p.requires_grad:
                p.add_(0.1 * torch.randn(p.shape, generator=g, dtype=p.dtype))
    return model


class LoRALinear(nn.Module):
    """A frozen base Linear plus a trainable low-rank update: y = base(x) + scale * B(A(x))."""

    def __init__(self, base: nn.Linear, rank: int = 2, scale: float = 2.0):
        super().__init__()
        self.base = base
        self.base.requires_grad_(False)
        self.lora_a = nn.Linear(base.in_features, rank, bias=False, dtype=base.weight.dtype)
        self.lora_b = nn.Linear(rank, base.out_features, bias=False, dtype=base.weight.dtype)
        nn.init.zeros_(self.lora_b.weight)  # as LoRA does; perturb_adapters moves it off zero
        self.scale = scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.base(x) + self.scale * self.lora_b(self.lora_a(x))


def lora_llama(seed: int = 0):
    """Llama with LoRA on every q_proj and v_proj; only the LoRA A and B matrices train."""
    model = llama(seed)
    model.requires_grad_(False)
    for layer in model.model.layers:
        attn = layer.self_attn
        attn.q_proj = LoRALinear(attn.q_proj)
        attn.v_proj = LoRALinear(attn.v_proj)
    return perturb_adapters(model, seed)  # the base was perturbed by llama()


FAMILIES = {"gpt2": gpt2, "llama": llama, "neox": neox, "lora_llama": lora_llama}
# Hugging Face upcasts to float32 inside these models (Llama's RMSNorm, the eager softmax of Llama
# and GPT-NeoX), so their second derivatives carry float32 rounding (~1e-8 relative) even in a
# float64 model. GPT-2's eager attention stays in float64 throughout.
FLOAT32_INSIDE = {"llama", "neox", "lora_llama"}


def make_batch(
    n_rows: int,
    seed: int,
    t_max: int = 10,
    vocab: int = VOCAB,
    min_len: int = 3,
    extra_ignored: float = 0.2,
    lengths: list[int] | None = None,
) -> dict[str, torch.Tensor]:
    """Random token rows of variable length, right-padded to t_max.

    Pads have attention_mask 0 and label -100; a fraction `extra_ignored` of the real tokens also
    get label -100 (as prompt masking does). Labels are unshifted (Hugging Face convention). Every
    row keeps at least one predicted label token (a label at position >= 1).
    """
    g = torch.Generator().manual_seed(seed)
    if lengths is None:
        lengths = torch.randint(min_len, t_max + 1, (n_rows,), generator=g).tolist()
    lengths[0] = t_max  # at least one full-length row so T == t_max
    input_ids = torch.randint(0, vocab, (n_rows, t_max), generator=g)
    attention_mask = torch.zeros(n_rows, t_max, dtype=torch.long)
    labels = torch.full((n_rows, t_max), -100, dtype=torch.long)
    for i, length in enumerate(lengths):
        attention_mask[i, :length] = 1
        labels[i, :length] = input_ids[i, :length]
        drop = torch.rand(length, generator=g) < extra_ignored
        drop[length - 1] = False  # keep the last real token as a predicted label
        labels[i, :length][drop] = -100
        input_ids[i, length:] = 0  # pad id; never attended to, never a label
    return {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels}


def make_targets(n_targets: int, seed: int, t_max: int = 8, vocab: int = VOCAB):
    """V target rows (variable length, right-padded), in the same format as a batch."""
    return make_batch(n_targets, seed + 10_000, t_max=t_max, vocab=vocab, extra_ignored=0.0)


PAD = {"input_ids": 0, "attention_mask": 0, "labels": -100}


def pad_to(batch: dict[str, torch.Tensor], t: int) -> dict[str, torch.Tensor]:
    """The batch right-padded to t tokens (pads: attention 0, label -100, so they are inert)."""
    return {k: nn.functional.pad(v, (0, t - v.shape[1]), value=PAD[k]) for k, v in batch.items()}


def concat_batches(batches: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Rows of several batches as one batch, right-padding the shorter ones."""
    t = max(b["input_ids"].shape[1] for b in batches)
    padded = [pad_to(b, t) for b in batches]
    return {k: torch.cat([b[k] for b in padded]) for k in PAD}


def with_row(batch: dict[str, torch.Tensor], src: int, dst: int) -> dict[str, torch.Tensor]:
    """A copy of the batch in which row dst is an exact duplicate of row src."""
    out = {k: v.clone() for k, v in batch.items()}
    for v in out.values():
        v[dst] = v[src]
    return out
