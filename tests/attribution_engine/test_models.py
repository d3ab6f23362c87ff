"""Tiny GPT-2 from a seed, local model directories, and the weight fingerprint."""

import json
from dataclasses import replace

import pytest
import torch
from synthetic import sentences
from transformers import LlamaConfig, LlamaForCausalLM

from attribution_engine.chunking import chunk_documents, collate
from attribution_engine.models import TinyGPT2Config, load_local_model, tiny_gpt2, weights_sha256
from attribution_engine.step import step_values
from attribution_engine.tokenizer import save_tokenizer, train_bpe_tokenizer

SMALL = TinyGPT2Config(n_layer=1, n_embd=32, n_head=2, n_positions=32)


@pytest.fixture(scope="module")
def tokenizer():
    return train_bpe_tokenizer(sentences(), vocab_size=320)


def test_tiny_gpt2_is_a_function_of_its_seed():
    torch.manual_seed(1234)
    state = torch.get_rng_state()
    first = tiny_gpt2(320, SMALL, seed=3)
    assert torch.equal(torch.get_rng_state(), state)  # the caller's RNG is untouched
    assert weights_sha256(tiny_gpt2(320, SMALL, seed=3)) == weights_sha256(first)
    assert weights_sha256(tiny_gpt2(320, SMALL, seed=4)) != weights_sha256(first)


def test_tiny_gpt2_config():
    model = tiny_gpt2(320, eos_token_id=5, pad_token_id=6)
    config = model.config
    assert (config.n_layer, config.n_embd, config.n_head, config.n_positions) == (2, 128, 4, 128)
    assert config.resid_pdrop == config.embd_pdrop == config.attn_pdrop == 0.0
    assert (config.bos_token_id, config.eos_token_id, config.pad_token_id) == (5, 5, 6)
    assert config._attn_implementation == "sdpa"
    assert model.lm_head.weight is model.transformer.wte.weight
    assert model.training and model.dtype == torch.float32


def test_eager_and_sdpa_agree_in_the_engine(tokenizer):
    """Both attention kernels compute the same model, and the engine scores either."""
    rows = chunk_documents([(str(i), t) for i, t in enumerate(sentences(6))], tokenizer, 16)
    batch, targets = collate(rows[:4], 0), collate(rows[4:6], 0)
    values = {}
    for kernel in ("eager", "sdpa"):
        model = tiny_gpt2(len(tokenizer), replace(SMALL, attn_implementation=kernel), seed=0)
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        values[kernel] = (logits, step_values(model, batch, targets, lr=0.1))
    torch.testing.assert_close(values["eager"][0], values["sdpa"][0], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(values["eager"][1], values["sdpa"][1], rtol=1e-4, atol=1e-9)


def test_load_local_gpt2_gives_identical_logits(tokenizer, tmp_path):
    model = tiny_gpt2(len(tokenizer), SMALL, seed=1).eval()
    model.save_pretrained(tmp_path)
    save_tokenizer(tokenizer, tmp_path)
    loaded, loaded_tokenizer = load_local_model(tmp_path)
    assert weights_sha256(loaded) == weights_sha256(model)
    ids = torch.tensor([tokenizer.encode("The river crossed warm bread.")])
    with torch.no_grad():
        torch.testing.assert_close(loaded(ids).logits, model(ids).logits, rtol=0, atol=0)
    assert loaded_tokenizer.encode("Each bee") == tokenizer.encode("Each bee")
    assert not loaded.training


def test_load_local_llama_without_pad_gets_pad_eos(tokenizer, tmp_path):
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=32,
        bos_token_id=0,
        eos_token_id=0,
    )
    model = LlamaForCausalLM(config).eval()
    model.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    _drop_specials(tmp_path, ("pad_token",))
    loaded, loaded_tokenizer = load_local_model(tmp_path)
    assert loaded_tokenizer.pad_token == loaded_tokenizer.eos_token
    ids = torch.tensor([tokenizer.encode("A baker followed the harbour lights.")])
    with torch.no_grad():
        torch.testing.assert_close(loaded(ids).logits, model(ids).logits, rtol=0, atol=0)


def _drop_specials(directory, names):
    """Remove special tokens from a saved tokenizer, as many published checkpoints lack a pad."""
    path = directory / "tokenizer_config.json"
    config = json.loads(path.read_text())
    for name in names:
        config.pop(name, None)
    path.write_text(json.dumps(config))


def test_load_local_model_errors(tokenizer, tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_local_model(tmp_path / "missing")
    save_tokenizer(tokenizer, tmp_path)
    with pytest.raises(FileNotFoundError, match=r"no config\.json"):
        load_local_model(tmp_path)
    model_only = tmp_path / "model_only"
    tiny_gpt2(len(tokenizer), SMALL).save_pretrained(model_only)
    with pytest.raises(FileNotFoundError, match="no tokenizer"):
        load_local_model(model_only)
    small_vocab = tmp_path / "small_vocab"
    tiny_gpt2(300, SMALL).save_pretrained(small_vocab)
    save_tokenizer(tokenizer, small_vocab)
    with pytest.raises(ValueError, match="embeds only 300"):
        load_local_model(small_vocab)
    no_pad_no_eos = tmp_path / "no_pad_no_eos"
    tiny_gpt2(len(tokenizer), SMALL).save_pretrained(no_pad_no_eos)
    save_tokenizer(tokenizer, no_pad_no_eos)
    _drop_specials(no_pad_no_eos, ("pad_token", "eos_token"))
    with pytest.raises(ValueError, match="neither a pad nor an eos"):
        load_local_model(no_pad_no_eos)


def test_weights_hash_sees_every_element():
    model = tiny_gpt2(320, SMALL)
    reference = weights_sha256(model)
    assert weights_sha256(tiny_gpt2(320, SMALL)) == reference
    state = model.state_dict()
    for name in ("transformer.wte.weight", "transformer.h.0.ln_1.bias", "transformer.wpe.weight"):
        flat = state[name].view(-1)
        with torch.no_grad():
            flat[7] += 1e-6
        assert weights_sha256(model) != reference, name
        with torch.no_grad():
            flat[7] -= 1e-6
    assert weights_sha256(model.double()) != reference  # same values, other dtype
    assert len(weights_sha256(model.to(torch.bfloat16))) == 64  # no numpy dtype needed


class _State(torch.nn.Module):
    """A module that is nothing but the given state dict (tensors stored separately)."""

    def __init__(self, state):
        super().__init__()
        self._state = state

    def state_dict(self, *args, **kwargs):
        return self._state


def test_weights_hash_counts_a_tied_tensor_once_under_its_first_name():
    tied = tiny_gpt2(320, SMALL)
    state = {name: t.clone() for name, t in tied.state_dict().items()}
    # Cloned, the two names are two tensors and both are hashed.
    assert weights_sha256(_State(state)) != weights_sha256(tied)
    # Tied, `lm_head.weight` (first in sorted order) is kept, `transformer.wte.weight` skipped.
    del state["transformer.wte.weight"]
    assert weights_sha256(_State(state)) == weights_sha256(tied)
