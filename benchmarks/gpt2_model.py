"""The GPT-2-shaped model and the random token rows that the overhead benchmarks time, on a CPU
(overhead.py) and on a GPU (gpu_overhead.py)."""

import torch
from transformers import GPT2Config, GPT2LMHeadModel


def gpt2(
    layers: int,
    width: int,
    heads: int,
    vocab: int,
    positions: int,
    *,
    device: torch.device | None = None,
    attention: str | None = None,
) -> GPT2LMHeadModel:
    """A GPT-2 from scratch in training mode, tied embeddings, no dropout (the torch.func
    per-sample baseline cannot draw random masks under vmap). `attention` names the attention
    implementation (None: transformers' default). Seed torch first for the same weights."""
    config = GPT2Config(
        n_layer=layers,
        n_embd=width,
        n_head=heads,
        vocab_size=vocab,
        n_positions=positions,
        bos_token_id=0,
        eos_token_id=0,
        resid_pdrop=0.0,
        embd_pdrop=0.0,
        attn_pdrop=0.0,
        **({"attn_implementation": attention} if attention else {}),
    )
    model = GPT2LMHeadModel(config).to(device or torch.device("cpu"))
    model.train()
    return model


def token_rows(vocab: int, n: int, tokens: int, device: torch.device | None = None) -> dict:
    """n rows of `tokens` uniform random ids, every token scored (labels = ids, HF style)."""
    ids = torch.randint(0, vocab, (n, tokens), device=device)
    return {"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": ids.clone()}
