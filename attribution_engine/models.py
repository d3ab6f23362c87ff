"""Models the engine trains or scores: a tiny GPT-2 built from scratch, a local Hugging Face
model directory, and the weight fingerprint that proves a replay reproduced a run (DESIGN 4).

Nothing here downloads: models are built from configs or read with local_files_only=True.
"""

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch
from torch import nn
from transformers import (
    AutoModelForCausalLM,
    GPT2Config,
    GPT2LMHeadModel,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)

from attribution_engine.tokenizer import load_tokenizer


@dataclass(frozen=True)
class TinyGPT2Config:
    """Shape of the from-scratch GPT-2; about 0.9M parameters with a 4096-token vocabulary."""

    n_layer: int = 2  # enough depth for attention to compose; seconds per epoch on a CPU
    n_embd: int = 128  # memorises a few thousand paragraphs without dwarfing the data
    n_head: int = 4  # 32 dimensions per head, as in GPT-2's 64 scaled down
    n_positions: int = 128  # the chunk length: paragraphs, not books
    # Runs must replay bit-exactly (DESIGN 4) and dropout only adds noise on so little data,
    # so all three dropouts are off.
    resid_pdrop: float = 0.0
    embd_pdrop: float = 0.0
    attn_pdrop: float = 0.0
    # sdpa: 5-10% faster than eager per training step at this size (the 4096-way lm_head
    # dominates) and bit-reproducible on CPU for a fixed thread count, as eager is. The engine
    # scores either (its second-order pass picks the math kernel, which has double backward).
    attn_implementation: Literal["eager", "sdpa"] = "sdpa"


def tiny_gpt2(
    vocab_size: int,
    config: TinyGPT2Config = TinyGPT2Config(),  # frozen, so one shared default is safe
    seed: int = 0,
    *,
    eos_token_id: int = 0,
    pad_token_id: int = 0,
) -> GPT2LMHeadModel:
    """A freshly initialised GPT-2 (tied wte / lm_head) in float32 and training mode.

    Initialisation depends on `seed` alone: the same arguments give identical weights, and the
    caller's global torch RNG is left as it was. bos = eos, as in GPT-2; pass the tokenizer's
    `eos_token_id` and `pad_token_id` so generation stops and pads consistently.
    """
    gpt2_config = GPT2Config(
        vocab_size=vocab_size,
        n_positions=config.n_positions,
        n_embd=config.n_embd,
        n_layer=config.n_layer,
        n_head=config.n_head,
        resid_pdrop=config.resid_pdrop,
        embd_pdrop=config.embd_pdrop,
        attn_pdrop=config.attn_pdrop,
        bos_token_id=eos_token_id,
        eos_token_id=eos_token_id,
        pad_token_id=pad_token_id,
        attn_implementation=config.attn_implementation,
    )
    with torch.random.fork_rng(devices=[]):  # built on the CPU: only the CPU RNG is used
        torch.random.default_generator.manual_seed(seed)  # torch.manual_seed would seed CUDA too
        model = GPT2LMHeadModel(gpt2_config)
    model.train()
    return model


def load_local_model(directory: str | Path) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """A causal LM and its tokenizer from a local Hugging Face directory (never downloads).

    Weights load in the dtype they were saved in; the model is returned in eval mode. A
    tokenizer without a pad token gets pad = eos (padding is masked and never predicted, so
    which token fills it does not matter); one with neither is an error.
    """
    path = Path(directory)
    if not path.is_dir():
        raise FileNotFoundError(
            f"model directory {path} does not exist; pass a local directory written by "
            "model.save_pretrained(dir) and tokenizer.save_pretrained(dir) (nothing is downloaded)"
        )
    if not (path / "config.json").is_file():
        raise FileNotFoundError(
            f"{path} has no config.json, so it is not a saved Hugging Face model; save the model "
            "with model.save_pretrained(dir), or point at the folder that holds config.json"
        )
    model = AutoModelForCausalLM.from_pretrained(str(path), local_files_only=True, dtype="auto")
    tokenizer = load_tokenizer(path)
    embeddings = model.get_input_embeddings().num_embeddings
    if len(tokenizer) > embeddings:
        raise ValueError(
            f"the tokenizer in {path} has {len(tokenizer)} tokens but the model embeds only "
            f"{embeddings}; they were not saved together. Save the training tokenizer with "
            "the model"
        )
    if tokenizer.pad_token is None:
        if tokenizer.eos_token is None:
            raise ValueError(
                f"the tokenizer in {path} has neither a pad nor an eos token; rows cannot be "
                "padded or ended. Set tokenizer.pad_token and save it again"
            )
        tokenizer.pad_token = tokenizer.eos_token
    return model, tokenizer


def weights_sha256(model: nn.Module) -> str:
    """Hex SHA-256 of the model's state: name, dtype, shape and raw bytes of every tensor.

    Tensors are taken from `model.state_dict()` in sorted name order; a tensor shared under
    several names (GPT-2's tied `lm_head.weight` / `transformer.wte.weight`) is hashed once,
    under the first of its names in that order (`lm_head.weight` for GPT-2). Bytes are those
    in memory, so the hash is the same on any device but differs between dtypes.
    """
    digest = hashlib.sha256()
    seen: set[tuple] = set()
    for name, tensor in sorted(model.state_dict(keep_vars=False).items()):
        # Two names of one tensor share pointer, dtype, shape and strides.
        key = (tensor.data_ptr(), tensor.dtype, tuple(tensor.shape), tensor.stride())
        if tensor.numel() > 0 and key in seen:
            continue
        seen.add(key)
        header = f"{name}\0{tensor.dtype}\0{tuple(tensor.shape)}\0"
        digest.update(header.encode("utf-8"))
        flat = tensor.detach().cpu().contiguous().reshape(-1)
        digest.update(flat.view(torch.uint8).numpy().tobytes())  # bfloat16 has no numpy dtype
    return digest.hexdigest()
