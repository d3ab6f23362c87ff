"""Seeded sampling from a trained model: the outputs whose provenance is then attributed.

Every sample is drawn in its own `model.generate` call under its own seed, derived from
(seed, prompt, sample index). A sample therefore does not depend on which other prompts or how
many samples were requested with it, and on a CPU the same arguments give the same text.
The cost is one generate call per sample, which is small for the models trained here.
"""

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from transformers import GenerationConfig, PreTrainedModel, PreTrainedTokenizerBase

from attribution_engine.modes import eval_mode


@dataclass(frozen=True)
class Generation:
    """One sample: its prompt, the completion alone (special tokens removed) and its seed.

    `seed` is the sample's own seed (see `sample_seed`), not the seed passed to `generate`.
    """

    prompt: str
    text: str
    seed: int


def sample_seed(seed: int, prompt: str, j: int) -> int:
    """The seed of sample `j` of `prompt`: 63 bits of SHA-256 over (seed, prompt, j)."""
    digest = hashlib.sha256(f"{seed}\0{j}\0{prompt}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


def generate(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    prompts: Sequence[str],
    *,
    n: int = 1,
    max_new_tokens: int = 48,
    seed: int = 0,
    temperature: float = 1.0,
    top_k: int = 50,
    greedy: bool = False,
) -> list[Generation]:
    """`n` sampled completions per prompt, prompt-major: [p0 s0, p0 s1, ..., p1 s0, ...].

    Sampling is top-k at `temperature`; `greedy` takes the most likely token at every position
    instead (temperature and top_k are then unused, and all `n` samples are the same text: what
    a model has memorised shows here first). Generation stops at eos or after `max_new_tokens`
    new tokens, clipped so that prompt + completion fit the model's context. An empty prompt
    starts from the bos token (eos when there is none). The model's own generation defaults are
    ignored; the caller's global RNG state and the train/eval flags of every submodule are
    restored.
    """
    if n < 1 or max_new_tokens < 1 or top_k < 1:
        raise ValueError(
            f"n, max_new_tokens and top_k must be >= 1; got {n}, {max_new_tokens}, {top_k}"
        )
    if not temperature > 0:
        raise ValueError(
            f"temperature must be positive, got {temperature}; a small value gives near-greedy text"
        )
    eos = tokenizer.eos_token_id
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eos
    start = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else eos
    if pad is None:
        raise ValueError(
            "the tokenizer has neither a pad nor an eos token; set tokenizer.pad_token"
        )
    if not prompts:
        return []
    limit = context_length(model)
    device = next(model.parameters()).device
    encoded = tokenizer(list(prompts), add_special_tokens=False, return_attention_mask=False)
    results = []
    for i, (prompt, ids) in enumerate(zip(prompts, encoded["input_ids"], strict=True)):
        if not ids:
            if start is None:
                raise ValueError(
                    f"prompt {i} is empty and the tokenizer has no bos or eos token to start from"
                )
            ids = [start]
        new_tokens = max_new_tokens
        if limit is not None:
            if len(ids) >= limit:
                raise ValueError(
                    f"prompt {i} is {len(ids)} tokens, which leaves no room in the model's "
                    f"context of {limit}; shorten the prompt to at most {limit - 1} tokens"
                )
            new_tokens = min(max_new_tokens, limit - len(ids))
        sampling = {"temperature": temperature, "top_k": top_k, "top_p": 1.0}
        config = GenerationConfig(
            do_sample=not greedy,
            max_new_tokens=new_tokens,
            **({} if greedy else sampling),
            pad_token_id=pad,
            eos_token_id=eos,
            bos_token_id=start,
        )
        input_ids = torch.tensor([ids], dtype=torch.long, device=device)  # 1 x T
        for j in range(n):
            own_seed = sample_seed(seed, prompt, j)
            completion = _sample(model, input_ids, config, own_seed)
            text = tokenizer.decode(completion, skip_special_tokens=True)
            results.append(Generation(prompt, text, own_seed))
    return results


def context_length(model: PreTrainedModel) -> int | None:
    """The most positions the model accepts (n_positions or max_position_embeddings), if known."""
    for name in ("n_positions", "max_position_embeddings"):
        value = getattr(model.config, name, None)
        if value is not None:
            return int(value)
    return None


def _sample(
    model: PreTrainedModel, input_ids: torch.Tensor, config: GenerationConfig, seed: int
) -> list[int]:
    """The new token ids of one sample drawn under `seed`, touching no outside state."""
    device = input_ids.device
    cuda = device.type == "cuda"
    with torch.random.fork_rng(devices=[device] if cuda else []), eval_mode(model), torch.no_grad():
        # Seed only the generator that samples (the CPU's, or this GPU's: a CUDA tensor's
        # device always has an index), so no other RNG state changes.
        if cuda:
            torch.cuda.default_generators[device.index].manual_seed(seed)
        else:
            torch.random.default_generator.manual_seed(seed)
        output = model.generate(
            input_ids=input_ids,
            attention_mask=torch.ones_like(input_ids),
            generation_config=config,
        )  # 1 x (T + new)
    return output[0, input_ids.shape[1] :].tolist()
