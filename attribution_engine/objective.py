"""The objective that is optimised and its exact split into training rows (DESIGN 2.3).

Rows follow the Hugging Face convention: `labels` are unshifted (the label at position t is
predicted from the logits at t - 1) and -100 marks a token that is not predicted. The engine
never passes labels to the model, so the model cannot shift them a second time.
Dimension legend: N rows, T tokens, K vocabulary.
"""

from collections.abc import Mapping

import torch
from torch import nn

from attribution_engine.errors import AttributionInputError

IGNORE_INDEX = -100
ROW_KEYS = ("input_ids", "attention_mask", "labels")


def validate_rows(rows: Mapping[str, torch.Tensor], name: str, vocab_size: int | None) -> None:
    """Raise AttributionInputError naming the first problem with `rows` (a batch or targets)."""
    if not isinstance(rows, Mapping):
        raise AttributionInputError(
            f"{name} must be a dict with keys {ROW_KEYS}, got {type(rows).__name__}"
        )
    missing = [key for key in ROW_KEYS if key not in rows]
    if missing:
        raise AttributionInputError(
            f"{name} is missing {missing}; pass input_ids, attention_mask and labels "
            "(labels unshifted, -100 where a token is not predicted)"
        )
    shape = rows["input_ids"].shape
    for key in ROW_KEYS:
        value = rows[key]
        if not isinstance(value, torch.Tensor) or value.dtype.is_floating_point:
            raise AttributionInputError(f"{name}[{key!r}] must be an integer tensor")
        if value.dim() != 2:
            raise AttributionInputError(
                f"{name}[{key!r}] must have shape [rows, tokens], got {tuple(value.shape)}"
            )
        if value.shape != shape:
            raise AttributionInputError(
                f"{name}[{key!r}] has shape {tuple(value.shape)} but {name}['input_ids'] has "
                f"{tuple(shape)}; all three must match"
            )
    if shape[0] == 0 or shape[1] < 2:
        raise AttributionInputError(
            f"{name} is empty (shape {tuple(shape)}): it needs at least one row of 2 tokens"
        )
    if vocab_size is not None:
        ids = rows["input_ids"]
        bad = (ids < 0) | (ids >= vocab_size)
        if bad.any():
            row = int(bad.any(dim=1).nonzero()[0])
            raise AttributionInputError(
                f"{name} row {row} holds token ids outside the model's vocabulary of "
                f"{vocab_size}; was it tokenised with another tokenizer?"
            )
        labels = rows["labels"]
        bad = (labels != IGNORE_INDEX) & ((labels < 0) | (labels >= vocab_size))
        if bad.any():
            row = int(bad.any(dim=1).nonzero()[0])
            raise AttributionInputError(
                f"{name} row {row} holds labels outside [0, {vocab_size}) other than -100"
            )


def predicted_counts(labels: torch.Tensor) -> torch.Tensor:
    """Number of predicted label tokens per row [N] (not -100 after the causal shift)."""
    return (labels[:, 1:] != IGNORE_INDEX).sum(dim=1)


def row_loss_sums(model: nn.Module, rows: Mapping[str, torch.Tensor]) -> torch.Tensor:
    """Summed token cross-entropy of each row [N], in nats, from one forward of `model`."""
    output = model(input_ids=rows["input_ids"], attention_mask=rows["attention_mask"])
    logits = output.logits if hasattr(output, "logits") else output[0]  # N x T x K
    if logits.dtype in (torch.float16, torch.bfloat16):
        logits = logits.float()  # half-precision softmax loses the small gradients we dot
    shifted = logits[:, :-1].reshape(-1, logits.shape[-1])  # N*(T-1) x K
    targets = rows["labels"][:, 1:].reshape(-1)
    losses = nn.functional.cross_entropy(
        shifted, targets, ignore_index=IGNORE_INDEX, reduction="none"
    )
    return losses.view(logits.shape[0], -1).sum(dim=1)


def vocab_size_of(model: nn.Module) -> int | None:
    """The model's input vocabulary size, when it exposes its input embedding."""
    get = getattr(model, "get_input_embeddings", None)
    embedding = get() if callable(get) else None
    return getattr(embedding, "num_embeddings", None)
