"""Seeded sampling: reproducible, independent of batching, leaves no trace, fits the context."""

import pytest
import torch
from synthetic import sentences

from attribution_engine.generate import Generation, generate, sample_seed
from attribution_engine.models import TinyGPT2Config, tiny_gpt2
from attribution_engine.tokenizer import train_bpe_tokenizer

CONTEXT = 24
PROMPTS = ["The keeper", "A baker crossed", ""]


@pytest.fixture(scope="module")
def tokenizer():
    return train_bpe_tokenizer(sentences(), vocab_size=320)


@pytest.fixture(scope="module")
def model(tokenizer):
    config = TinyGPT2Config(n_layer=1, n_embd=32, n_head=2, n_positions=CONTEXT)
    return tiny_gpt2(len(tokenizer), config, seed=0).eval()


def test_same_seed_same_texts(model, tokenizer):
    first = generate(model, tokenizer, PROMPTS, n=2, max_new_tokens=8, seed=3)
    assert first == generate(model, tokenizer, PROMPTS, n=2, max_new_tokens=8, seed=3)
    assert [g.prompt for g in first] == [p for p in PROMPTS for _ in range(2)]
    assert all(isinstance(g, Generation) and g.text for g in first)  # an untrained model rambles
    other = generate(model, tokenizer, PROMPTS, n=2, max_new_tokens=8, seed=4)
    assert [g.text for g in other] != [g.text for g in first]
    assert len({g.seed for g in first}) == len(first)


def test_a_sample_does_not_depend_on_what_else_was_asked(model, tokenizer):
    together = generate(model, tokenizer, PROMPTS, n=3, max_new_tokens=8, seed=5)
    alone = generate(model, tokenizer, [PROMPTS[1]], n=1, max_new_tokens=8, seed=5)
    assert alone[0] == together[3]  # prompt 1, sample 0
    assert alone[0].seed == sample_seed(5, PROMPTS[1], 0)


def test_model_generation_defaults_are_ignored(model, tokenizer):
    before = generate(model, tokenizer, PROMPTS[:1], n=2, max_new_tokens=8)
    model.generation_config.top_k = 1
    try:
        assert generate(model, tokenizer, PROMPTS[:1], n=2, max_new_tokens=8) == before
    finally:
        model.generation_config.top_k = 50


def test_global_rng_and_modes_are_restored(tokenizer):
    model = tiny_gpt2(len(tokenizer), TinyGPT2Config(n_layer=1, n_embd=32, n_head=2))
    model.train()
    model.transformer.h[0].eval()  # a mixed state must come back exactly
    modes = [m.training for m in model.modules()]
    torch.manual_seed(99)
    state = torch.get_rng_state()
    generate(model, tokenizer, PROMPTS, n=2, max_new_tokens=4)
    assert torch.equal(torch.get_rng_state(), state)
    assert [m.training for m in model.modules()] == modes


def test_never_exceeds_the_context(model, tokenizer, monkeypatch):
    lengths = []
    original = model.generate

    def spy(*args, **kwargs):
        output = original(*args, **kwargs)
        lengths.append(output.shape[1])
        return output

    monkeypatch.setattr(model, "generate", spy)
    ids = tokenizer.encode(" ".join(sentences(10)), add_special_tokens=False)
    fits = tokenizer.decode(ids[: CONTEXT - 2])
    assert len(tokenizer.encode(fits)) == CONTEXT - 2
    # Two tokens of room: asking for 48 is clipped to 2 (GPT-2 fails past n_positions).
    generate(model, tokenizer, [fits], n=3, max_new_tokens=48)
    assert len(lengths) == 3 and max(lengths) == CONTEXT
    too_long = tokenizer.decode(ids[:CONTEXT])
    with pytest.raises(ValueError, match=f"prompt 0 is {CONTEXT} tokens.*at most {CONTEXT - 1}"):
        generate(model, tokenizer, [too_long])


def test_bad_options(model, tokenizer):
    with pytest.raises(ValueError, match="temperature"):
        generate(model, tokenizer, ["x"], temperature=0.0)
    with pytest.raises(ValueError, match=">= 1"):
        generate(model, tokenizer, ["x"], n=0)
    assert generate(model, tokenizer, []) == []
