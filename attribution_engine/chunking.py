"""Documents to training rows, rows to batches, target texts to scored rows.

Every training row belongs to exactly one document (DESIGN 2.5), so a document's value is the
sum of its rows' values. Batches follow the row convention of `objective.py`: input_ids,
attention_mask and labels, labels unshifted, -100 where a token is not predicted.
Dimension legend: N rows, T tokens.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from transformers import PreTrainedTokenizerBase

from attribution_engine.objective import IGNORE_INDEX


@dataclass(frozen=True)
class Row:
    """One training row: tokens `input_ids` of chunk number `chunk` (from 0) of `doc_id`."""

    doc_id: str
    chunk: int
    input_ids: tuple[int, ...]


def chunk_documents(
    documents: Sequence[tuple[str, str]], tokenizer: PreTrainedTokenizerBase, context: int
) -> list[Row]:
    """Split each (doc_id, text) into consecutive rows of at most `context` tokens.

    Each text is tokenised without special tokens and the tokenizer's eos is appended, so a
    document's chunks concatenate to its tokens + eos. Chunks do not overlap: the first token
    of every chunk is context only (not predicted), as in any fixed-window training. A trailing
    chunk of one token predicts nothing and is dropped when the document has other chunks
    (losing that token, often the eos); a document that is one token in all (an empty text
    gives just eos) keeps its single row. Rows come in document order, then chunk order.
    """
    if context < 2:
        raise ValueError(
            f"context must be at least 2 tokens (one to read, one to predict), got {context}"
        )
    eos = _eos_id(tokenizer)
    ids = [doc_id for doc_id, _ in documents]
    if len(set(ids)) != len(ids):
        repeated = sorted({doc_id for doc_id in ids if ids.count(doc_id) > 1})[:5]
        raise ValueError(
            f"document ids must be unique (every row belongs to exactly one document); "
            f"repeated: {repeated}. Merge the texts or give each document its own id"
        )
    if not documents:
        return []
    encoded = _encode(tokenizer, [text for _, text in documents])
    rows: list[Row] = []
    for doc_id, tokens in zip(ids, encoded, strict=True):
        tokens = [*tokens, eos]
        pieces = [tokens[start : start + context] for start in range(0, len(tokens), context)]
        if len(pieces) > 1 and len(pieces[-1]) < 2:
            pieces.pop()
        rows.extend(Row(doc_id, k, tuple(piece)) for k, piece in enumerate(pieces))
    return rows


def collate(rows: Sequence[Row], pad_id: int) -> dict[str, torch.Tensor]:
    """Rows right-padded with `pad_id` to the longest: input_ids, attention_mask, labels [N, T].

    attention_mask is 1 on real tokens; labels are the input_ids (unshifted) with -100 on pads.
    """
    if not rows:
        raise ValueError("collate got no rows; a batch needs at least one")
    width = max(len(row.input_ids) for row in rows)
    input_ids = torch.full((len(rows), width), pad_id, dtype=torch.long)  # N x T
    attention_mask = torch.zeros((len(rows), width), dtype=torch.long)  # N x T
    for n, row in enumerate(rows):
        input_ids[n, : len(row.input_ids)] = torch.tensor(row.input_ids, dtype=torch.long)
        attention_mask[n, : len(row.input_ids)] = 1
    labels = input_ids.masked_fill(attention_mask == 0, IGNORE_INDEX)
    return {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels}


def encode_targets(
    texts: Sequence[str],
    prompts: Sequence[str | None],
    tokenizer: PreTrainedTokenizerBase,
    context: int,
) -> dict[str, torch.Tensor]:
    """One right-padded row per target: prompt tokens (if any), then the text's tokens.

    Only the text is scored: labels are -100 on prompt tokens and pads. Prompt and text are
    tokenised separately (no eos, no bos), so the boundary between them is exact; put any
    separating space in the text. Rows never exceed `context`: a longer one is an error.
    """
    if len(prompts) != len(texts):
        raise ValueError(
            f"got {len(texts)} target texts but {len(prompts)} prompts; pass one prompt per "
            "text (None where a target has no prompt)"
        )
    if not texts:
        raise ValueError("encode_targets got no texts; pass at least one target")
    text_ids = _encode(tokenizer, list(texts))
    prompt_ids = _encode(tokenizer, [prompt or "" for prompt in prompts])
    rows, labels = [], []
    for v, (prompt, text) in enumerate(zip(prompt_ids, text_ids, strict=True)):
        if not text:
            raise ValueError(f"target {v} tokenises to no tokens; give it some text to score")
        if not prompt and len(text) < 2:
            raise ValueError(
                f"target {v} is a single token with no prompt, so nothing is predicted (the "
                "first token has no context); add a prompt or lengthen the text"
            )
        if len(prompt) + len(text) > context:
            raise ValueError(
                f"target {v} is {len(prompt) + len(text)} tokens (prompt {len(prompt)}, text "
                f"{len(text)}) but the model's context is {context}; shorten the text or its "
                "prompt (targets are never truncated silently)"
            )
        rows.append(Row(f"target {v}", 0, (*prompt, *text)))
        labels.append([IGNORE_INDEX] * len(prompt) + list(text))
    batch = collate(rows, _pad_id(tokenizer))
    for v, row_labels in enumerate(labels):
        batch["labels"][v, : len(row_labels)] = torch.tensor(row_labels, dtype=torch.long)
    return batch


def _encode(tokenizer: PreTrainedTokenizerBase, texts: list[str]) -> list[list[int]]:
    # One batched call (the fast tokenizer runs it in Rust); verbose=False because long
    # documents are expected here and are chunked afterwards, not truncated.
    encoded = tokenizer(texts, add_special_tokens=False, return_attention_mask=False, verbose=False)
    return encoded["input_ids"]


def _eos_id(tokenizer: PreTrainedTokenizerBase) -> int:
    if tokenizer.eos_token_id is None:
        raise ValueError(
            "the tokenizer has no eos token, so document ends cannot be marked; set "
            "tokenizer.eos_token (train_bpe_tokenizer uses <|endoftext|>)"
        )
    return tokenizer.eos_token_id


def _pad_id(tokenizer: PreTrainedTokenizerBase) -> int:
    # Pads are masked and never labelled, so falling back to eos changes no value.
    return tokenizer.pad_token_id if tokenizer.pad_token_id is not None else _eos_id(tokenizer)
