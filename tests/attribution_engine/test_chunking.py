"""Documents to rows (one document per row), padded batches, and prompt-masked targets."""

import pytest
import torch
from synthetic import sentences

from attribution_engine.chunking import Row, chunk_documents, collate, encode_targets
from attribution_engine.objective import IGNORE_INDEX, predicted_counts, validate_rows
from attribution_engine.tokenizer import train_bpe_tokenizer


@pytest.fixture(scope="module")
def tokenizer():
    return train_bpe_tokenizer(sentences(), vocab_size=320)


def _documents(n: int) -> list[tuple[str, str]]:
    """Documents of 1 to 12 sentences, so lengths straddle several context sizes."""
    pool = sentences(200, seed=2)
    return [(f"doc-{i}", " ".join(pool[i : i + 1 + i % 12])) for i in range(n)]


@pytest.mark.parametrize("context", [2, 3, 7, 16, 64])
def test_chunks_reassemble_each_document(tokenizer, context):
    documents = _documents(30)
    rows = chunk_documents(documents, tokenizer, context)
    assert all(2 <= len(row.input_ids) <= context for row in rows)
    # Documents in the given order, each one's chunks numbered 0, 1, ... in order.
    assert list(dict.fromkeys(row.doc_id for row in rows)) == [doc_id for doc_id, _ in documents]
    for doc_id, text in documents:
        own = [row for row in rows if row.doc_id == doc_id]
        assert [row.chunk for row in own] == list(range(len(own)))
        tokens = [*tokenizer.encode(text, add_special_tokens=False), tokenizer.eos_token_id]
        joined = [token for row in own for token in row.input_ids]
        if len(tokens) % context == 1:  # the one-token tail was dropped
            assert joined == tokens[:-1]
        else:
            assert joined == tokens


def test_a_one_token_tail_is_dropped_only_when_other_chunks_exist(tokenizer):
    text = sentences(1)[0]
    n = len(tokenizer.encode(text, add_special_tokens=False))  # n + 1 tokens with eos
    rows = chunk_documents([("a", text), ("empty", "")], tokenizer, context=n)
    assert [(row.doc_id, len(row.input_ids)) for row in rows] == [("a", n), ("empty", 1)]
    assert rows[1].input_ids == (tokenizer.eos_token_id,)  # the whole of an empty document


def test_chunking_errors(tokenizer):
    with pytest.raises(ValueError, match="at least 2"):
        chunk_documents([("a", "text")], tokenizer, 1)
    with pytest.raises(ValueError, match="repeated: \\['a'\\]"):
        chunk_documents([("a", "one"), ("b", "two"), ("a", "three")], tokenizer, 8)
    assert chunk_documents([], tokenizer, 8) == []


def test_collate_pads_right_and_masks_labels():
    rows = [Row("a", 0, (5, 6, 7)), Row("b", 0, (8,)), Row("c", 2, (9, 10))]
    batch = collate(rows, pad_id=0)
    assert batch["input_ids"].tolist() == [[5, 6, 7], [8, 0, 0], [9, 10, 0]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [1, 0, 0], [1, 1, 0]]
    assert batch["labels"].tolist() == [[5, 6, 7], [8, -100, -100], [9, 10, -100]]
    assert all(t.dtype == torch.long for t in batch.values())
    validate_rows(batch, "batch", vocab_size=11)
    with pytest.raises(ValueError, match="no rows"):
        collate([], pad_id=0)


def test_encode_targets_masks_prompts_and_pads(tokenizer):
    texts = [" watched the northern cape at night.", "A baker crossed warm bread."]
    prompts = ["The keeper", None]
    batch = encode_targets(texts, prompts, tokenizer, context=64)
    validate_rows(batch, "targets", vocab_size=len(tokenizer))
    prompt = tokenizer.encode(prompts[0], add_special_tokens=False)
    text0 = tokenizer.encode(texts[0], add_special_tokens=False)
    text1 = tokenizer.encode(texts[1], add_special_tokens=False)
    width = len(prompt) + len(text0)
    assert batch["input_ids"].shape == (2, max(width, len(text1)))
    assert batch["input_ids"][0, :width].tolist() == prompt + text0
    assert batch["labels"][0, :width].tolist() == [IGNORE_INDEX] * len(prompt) + text0
    assert batch["labels"][1, : len(text1)].tolist() == text1
    assert (batch["labels"][batch["attention_mask"] == 0] == IGNORE_INDEX).all()
    # Every text token is scored, none of the prompt's (the first token of a bare text has no
    # context, so it is the only one not predicted).
    assert predicted_counts(batch["labels"]).tolist() == [len(text0), len(text1) - 1]
    # No eos or bos is added.
    assert tokenizer.eos_token_id not in batch["input_ids"][0, :width].tolist()


def test_encode_targets_errors(tokenizer):
    long_text = " ".join(sentences(5))
    length = len(tokenizer.encode(long_text, add_special_tokens=False))
    with pytest.raises(ValueError, match=f"target 1 is {length} tokens .* shorten"):
        encode_targets(["fine text", long_text], [None, None], tokenizer, context=length - 1)
    with pytest.raises(ValueError, match="target 0 tokenises to no tokens"):
        encode_targets([""], ["prompt"], tokenizer, context=32)
    with pytest.raises(ValueError, match="single token with no prompt"):
        encode_targets(["a"], [None], tokenizer, context=32)
    with pytest.raises(ValueError, match="one prompt per"):
        encode_targets(["a b", "c d"], [None], tokenizer, context=32)
    # The same single token is fine after a prompt: it is predicted from the prompt.
    batch = encode_targets(["a"], ["Each bee"], tokenizer, context=32)
    assert predicted_counts(batch["labels"]).tolist() == [1]
