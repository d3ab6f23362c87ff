"""Many targets: target passes in chunks under a memory limit, materialised target matrices a
chunk of columns at a time, and the refusal of more targets than fit. Every chunked path gives
the values of the unchunked one and of the per-sample float64 oracle."""

import pytest
import torch
from checks import fresh
from oracle import rel_err
from oracle_cases import STRATEGIES, oracle_case
from tiny_models import gpt2, make_batch, make_targets, pad_to

from attribution_engine import (
    Accounting,
    AttributionConfig,
    AttributionInputError,
    InRunAttributor,
    step_values,
)
from attribution_engine.budget import TargetMemory
from attribution_engine.capture import Capture
from attribution_engine.ghost import strategies
from attribution_engine.ghost.factors import Dense, OneHot
from attribution_engine.ghost.uses import FactoredUse, cat_uses
from attribution_engine.objective import vocab_size_of

LR = 0.1


@pytest.mark.parametrize("kept", [True, False], ids=["rows-kept", "rows-reformed"])
@pytest.mark.parametrize("order", [1, 2])
@pytest.mark.parametrize("n_targets", [1, 3])
@pytest.mark.parametrize("strategy", STRATEGIES, ids=lambda s: s.name)
def test_column_chunks_match_the_oracle(monkeypatch, strategy, n_targets, order, kept):
    """One matrix per chunk (and first-order and second-order columns in one chunk sequence),
    with the rows' gradients kept across chunks or formed again per chunk: tied GPT-2, padded
    rows, -100 labels, V in {1, 3}."""
    monkeypatch.setattr(strategies, "MATRIX_ELEMENTS", 1)
    monkeypatch.setattr(strategies, "ROW_GRADIENT_ELEMENTS", 1 << 30 if kept else 1)
    model, batch, targets, expected = oracle_case(
        "gpt2", n_targets, order=order, lr=LR, model_seed=3, rows=6, seed=11
    )
    values = step_values(model, batch, targets, lr=LR, order=order, strategy=strategy)
    assert rel_err(values, expected) <= 1e-6


def _run(model, targets, batches, limit, accounting):
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    config = AttributionConfig(accounting=accounting, target_memory_mib=limit, max_grad_norm=1.0)
    with InRunAttributor(model, optimizer, targets, config) as attributor:
        return attributor._target_chunks, [attributor.step(batch) for batch in batches]


def _per_target(model, targets) -> TargetMemory:
    tokens = targets["input_ids"].shape[1]
    return TargetMemory.estimate(Capture(model).hooked, vocab_size_of(model), tokens, 8)


@pytest.mark.parametrize("accounting", [Accounting.ADAM, Accounting.SGD_PROXY])
@pytest.mark.parametrize("n_targets", [2, 5])
def test_chunked_target_passes_give_the_values_of_one_pass(accounting, n_targets):
    """A limit that fits all captures but only two targets' passes at a time: the passes run in
    chunks, and values, losses and the efficiency check equal one pass's (float64, 1e-12)."""
    model = gpt2(seed=4).double()
    targets = pad_to(make_targets(n_targets, seed=31), 10)  # padding inside the chunks
    batches = [make_batch(4, seed=32 + k) for k in range(2)]
    memory = _per_target(model, targets)
    limit = (n_targets * memory.kept + 2 * memory.passing + 1) / 2**20
    chunks, chunked = _run(fresh(model), targets, batches, limit, accounting)
    whole_chunks, whole = _run(fresh(model), targets, batches, None, accounting)
    assert len(chunks) == (n_targets + 1) // 2 and whole_chunks == [(0, n_targets)]
    for a, b in zip(chunked, whole, strict=True):
        assert a.values.shape == (4, n_targets)
        assert rel_err(a.values, b.values) <= 1e-12
        assert rel_err(a.target_losses, b.target_losses) <= 1e-12
        assert rel_err(a.predicted_drop, b.predicted_drop) <= 1e-12
        assert rel_err(a.decay_drop, b.decay_drop) <= 1e-12


def test_more_targets_than_fit_are_refused_with_the_number_that_fits():
    model = gpt2(seed=4).double()
    targets = make_targets(6, seed=31)
    memory = _per_target(model, targets)
    limit = (3 * memory.kept + memory.passing + 1) / 2**20  # three targets' captures fit
    before = [p.detach().clone() for p in model.parameters()]
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    config = AttributionConfig(target_memory_mib=limit)
    with pytest.raises(AttributionInputError, match=r"6 targets need .*: 3 fit"):
        InRunAttributor(model, optimizer, targets, config)
    assert all(torch.equal(a, p) for a, p in zip(before, model.parameters(), strict=True))
    assert not any(m._forward_hooks for m in model.modules())  # nothing was hooked


def test_the_estimate_counts_every_hooked_call_and_the_logits():
    """Tiny GPT-2 (width 16, vocabulary V): per token, each Conv1D keeps d_in + d_out values,
    each embedding d + 1, each LayerNorm 2d, the tied lm_head V + d; a pass adds 3V logits."""
    model = gpt2(seed=4)
    d, vocab, layers = model.config.n_embd, model.config.vocab_size, model.config.n_layer
    per_block = (d + 3 * d) + (d + d) + (d + 4 * d) + (4 * d + d) + 2 * (2 * d)
    widths = layers * per_block + 2 * (d + 1) + 2 * d + (vocab + d)
    memory = TargetMemory.estimate(Capture(model).hooked, vocab, 7, 4)
    assert memory.kept == widths * 7 * 4
    assert memory.passing == (widths + 3 * vocab) * 7 * 4
    assert memory.chunks(5, None) == [(0, 5)]
    assert memory.fitting(memory.passing + 2.5 * memory.kept) == 2


def test_cat_uses_joins_rows_of_each_use_in_order():
    ids = [torch.tensor([[1, 2]]), torch.tensor([[3, 0], [2, 2]])]
    weights = [None, torch.tensor([[0.5, 2.0], [1.0, 3.0]])]
    xs = [torch.randn(1, 2, 3), torch.randn(2, 2, 3)]
    chunks = [
        [FactoredUse(OneHot(i, 4, w), Dense(x))] for i, w, x in zip(ids, weights, xs, strict=True)
    ]
    (joined,) = cat_uses(chunks)
    assert torch.equal(joined.left.index, torch.cat(ids))
    assert torch.equal(joined.left.weight, torch.tensor([[1.0, 1.0], [0.5, 2.0], [1.0, 3.0]]))
    assert torch.equal(joined.right.x, torch.cat(xs))
