"""Byte-level BPE tokenizers trained on the corpus, their fingerprint, and local save/load.

A replay (DESIGN 4) must tokenise exactly as the original run did, so a run records
`tokenizer_sha256` and a replay checks it. Byte-level BPE maps every UTF-8 byte to a token
first, so any text encodes without unknown tokens and decodes back to itself.
"""

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import AutoTokenizer, PreTrainedTokenizerBase, PreTrainedTokenizerFast

EOS_TOKEN = "<|endoftext|>"  # GPT-2's name; id 0, also used as bos and pad
# Call-time settings that transformers writes onto the backend while encoding (padding=True,
# truncation=True); they do not change the vocabulary or the merges, so the hash ignores them.
_CALL_TIME_KEYS = ("padding", "truncation")
# save_pretrained writes both; without either, transformers 5 silently builds an empty tokenizer.
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json")


def train_bpe_tokenizer(texts: Iterable[str], vocab_size: int = 4096) -> PreTrainedTokenizerFast:
    """A byte-level BPE tokenizer of at most `vocab_size` tokens trained on `texts`.

    `<|endoftext|>` is token 0 and serves as eos, bos and pad. No prefix space is added and
    offsets are not trimmed, so decode(encode(text)) == text for every string. Training is
    deterministic: the same texts (same order) give the same tokenizer and hash.
    """
    base = len(pre_tokenizers.ByteLevel.alphabet()) + 1  # 256 bytes + eos
    if vocab_size < base:
        raise ValueError(
            f"vocab_size={vocab_size} is below the {base} tokens a byte-level BPE needs "
            "(256 bytes and <|endoftext|>); use at least that many"
        )
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=2,  # a pair seen once is memorisation, not vocabulary
        special_tokens=[EOS_TOKEN],  # listed first, so it gets id 0
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),  # every byte, seen or not
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer=trainer)
    return _wrap(tokenizer)


def _wrap(tokenizer: Tokenizer) -> PreTrainedTokenizerFast:
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        eos_token=EOS_TOKEN,
        bos_token=EOS_TOKEN,
        pad_token=EOS_TOKEN,
        unk_token=None,  # byte-level: nothing is unknown
        clean_up_tokenization_spaces=False,  # would change " ," into "," on decode
    )


def tokenizer_sha256(tokenizer: PreTrainedTokenizerBase) -> str:
    """Hex SHA-256 of the tokenizer's canonical JSON (vocabulary, merges, normaliser,
    pre-tokenizer, decoder, added tokens) plus its special tokens and decode-cleanup flag.

    Keys are sorted; padding and truncation settings are left out (transformers changes them
    on the backend while encoding). Stable across save_tokenizer / load_tokenizer.
    """
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        raise TypeError(
            f"{type(tokenizer).__name__} is a slow (Python) tokenizer; the hash needs a fast "
            "tokenizer (load it with use_fast=True or convert it with tokenizers)"
        )
    state = json.loads(backend.to_str())
    for key in _CALL_TIME_KEYS:
        state.pop(key, None)
    specials = {
        name: [getattr(tokenizer, name), getattr(tokenizer, f"{name}_id")]
        for name in ("bos_token", "eos_token", "pad_token", "unk_token")
    }
    canonical = {
        "backend": state,
        "special_tokens": specials,
        "clean_up_tokenization_spaces": bool(tokenizer.clean_up_tokenization_spaces),
    }
    text = json.dumps(canonical, sort_keys=True, ensure_ascii=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("ascii")).hexdigest()


def save_tokenizer(tokenizer: PreTrainedTokenizerBase, directory: str | Path) -> None:
    """Write the tokenizer to `directory` (created if missing) in Hugging Face format."""
    Path(directory).mkdir(parents=True, exist_ok=True)
    tokenizer.save_pretrained(str(directory))


def load_tokenizer(directory: str | Path) -> PreTrainedTokenizerBase:
    """The tokenizer saved in `directory`; never downloads (local_files_only=True)."""
    path = Path(directory)
    if not path.is_dir():
        raise FileNotFoundError(
            f"tokenizer directory {path} does not exist; save one with save_tokenizer(tokenizer, "
            "directory) or check the path recorded for the run"
        )
    if not any((path / name).is_file() for name in TOKENIZER_FILES):
        raise FileNotFoundError(
            f"{path} holds no tokenizer.json or tokenizer_config.json; it is not a saved "
            "Hugging Face tokenizer (save one with save_tokenizer)"
        )
    return AutoTokenizer.from_pretrained(str(path), local_files_only=True)
