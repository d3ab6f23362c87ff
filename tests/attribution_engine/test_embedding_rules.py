"""Embedding subclasses (issue 16 items 2-3): scaled word embeddings (Gemma family, XGLM) and
learned position tables that take positions, not ids (OPT with its offset, BioGPT, the Bart
family, Whisper; Blenderbot's rowless [T, d] table), plus calls on flattened [B*T, d] tokens
(OPT's FFN and final LayerNorm), against the oracle."""

import importlib
import inspect

import pytest
import torch
import zoo
from oracle import first_order, per_sample_grads, rel_err, target_grads
from oracle_cases import STRATEGIES
from tiny_models import make_batch, make_targets

from attribution_engine import step_values
from attribution_engine.ghost.embedding import (
    GIVEN_POSITION_TABLES,
    MASK_POSITION_TABLES,
    RANGE_POSITION_TABLES,
    ROWLESS_POSITION_TABLES,
    SCALED_WORD_EMBEDDINGS,
)

LR = 0.1


def _class(name: str) -> type:
    module, _, cls = name.rpartition(".")
    return getattr(importlib.import_module(module), cls)


@pytest.mark.parametrize("name", SCALED_WORD_EMBEDDINGS)
def test_scaled_embedding_forward_is_what_the_rule_assumes(name):
    """A transformers release that changes one of these forwards fails here, by name."""
    source = inspect.getsource(_class(name).forward)
    assert "super().forward(input_ids) * self.embed_scale" in source, source
    assert source.count("\n") <= 3, source  # nothing else in the body


@pytest.mark.parametrize("name", MASK_POSITION_TABLES + RANGE_POSITION_TABLES)
def test_position_table_forward_is_what_the_rule_assumes(name):
    source = inspect.getsource(_class(name).forward)
    assert "return super().forward(position_ids + self.offset)" in source, source
    if name in MASK_POSITION_TABLES:
        assert "torch.cumsum(attention_mask, dim=1)" in source, source
    else:
        assert "torch.arange(" in source and "position_ids.unsqueeze(0)" in source, source


@pytest.mark.parametrize("name", ROWLESS_POSITION_TABLES)
def test_rowless_table_forward_is_what_the_rule_assumes(name):
    source = inspect.getsource(_class(name).forward)
    assert "return super().forward(position_ids)" in source, source
    assert "torch.arange(" in source and "expand" not in source, source  # [T]: no row axis


@pytest.mark.parametrize("name", GIVEN_POSITION_TABLES)
def test_given_position_table_forward_is_what_the_rule_assumes(name):
    assert "return self.weight[position_ids]" in inspect.getsource(_class(name).forward)


@pytest.mark.parametrize("strategy", STRATEGIES, ids=lambda s: s.name)
@pytest.mark.parametrize("n_targets", [1, 3])
@pytest.mark.parametrize(
    "model_type", ["gemma", "gemma2", "xglm", "opt", "biogpt", "bart", "blenderbot", "whisper"]
)
def test_first_order_matches_oracle(model_type, n_targets, strategy):
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)  # XGLM builds its mask fill in the default dtype
    try:
        model = zoo.build(model_type, seed=2)
        batch, targets = make_batch(5, seed=21), make_targets(n_targets, seed=22, t_max=6)
        expected = first_order(LR, per_sample_grads(model, batch), target_grads(model, targets))
        values = step_values(model, batch, targets, lr=LR, strategy=strategy)
    finally:
        torch.set_default_dtype(previous)
    assert rel_err(values, expected) <= 1e-6
