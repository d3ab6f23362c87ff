"""Byte-level BPE: deterministic training, exact round trips, a hash stable across save/load."""

import pytest
from synthetic import sentences

from attribution_engine.tokenizer import (
    EOS_TOKEN,
    load_tokenizer,
    save_tokenizer,
    tokenizer_sha256,
    train_bpe_tokenizer,
)


@pytest.fixture(scope="module")
def tokenizer():
    return train_bpe_tokenizer(sentences(), vocab_size=400)


def test_training_is_deterministic(tokenizer):
    again = train_bpe_tokenizer(sentences(), vocab_size=400)
    assert tokenizer_sha256(again) == tokenizer_sha256(tokenizer)
    assert again.get_vocab() == tokenizer.get_vocab()
    other = train_bpe_tokenizer(sentences(seed=1)[:50], vocab_size=400)
    assert tokenizer_sha256(other) != tokenizer_sha256(tokenizer)


def test_special_token_is_id_zero_and_serves_as_eos_bos_pad(tokenizer):
    assert tokenizer.convert_tokens_to_ids(EOS_TOKEN) == 0
    assert tokenizer.eos_token_id == tokenizer.bos_token_id == tokenizer.pad_token_id == 0
    assert 256 < len(tokenizer) <= 400  # every byte plus learned merges
    # Encoding adds no special tokens of its own.
    assert tokenizer("The keeper")["input_ids"] == tokenizer.encode(
        "The keeper", add_special_tokens=False
    )


@pytest.mark.parametrize(
    "text",
    [
        "The keeper watched the northern cape at night.",
        "  leading and trailing spaces , odd punctuation ;  ",
        "Ünïcödé, 日本語, emoji 🙂 and tabs\tand\nnewlines\r\n",
        "",
    ],
)
def test_any_text_round_trips(tokenizer, text):
    ids = tokenizer.encode(text, add_special_tokens=False)
    assert tokenizer.decode(ids) == text


def test_merges_compress_the_training_text(tokenizer):
    text = sentences()[0]
    assert len(tokenizer.encode(text)) < len(text.encode("utf-8")) / 2


def test_hash_survives_save_load_and_use(tokenizer, tmp_path):
    before = tokenizer_sha256(tokenizer)
    # Encoding with padding/truncation writes call-time settings onto the backend.
    tokenizer(["a b c", "d"], padding=True, truncation=True, max_length=2)
    assert tokenizer_sha256(tokenizer) == before
    save_tokenizer(tokenizer, tmp_path / "tok")
    loaded = load_tokenizer(tmp_path / "tok")
    assert tokenizer_sha256(loaded) == before
    text = "Our ferry crossed warm bread for years."
    assert loaded.encode(text) == tokenizer.encode(text)
    assert loaded.eos_token_id == loaded.pad_token_id == 0


def test_hash_sees_special_token_changes(tokenizer, tmp_path):
    save_tokenizer(tokenizer, tmp_path)
    changed = load_tokenizer(tmp_path)
    changed.pad_token = "e"
    assert tokenizer_sha256(changed) != tokenizer_sha256(tokenizer)


def test_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="at least"):
        train_bpe_tokenizer(sentences(), vocab_size=100)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_tokenizer(tmp_path / "missing")
    with pytest.raises(FileNotFoundError, match=r"no tokenizer\.json"):
        load_tokenizer(tmp_path)
