"""A NaN or Inf in a training row's loss or in a gradient stops the step before anything is
applied or stored (weights, optimizer state, checkpoint, ledger), the error names the step and
the documents, the ledger holds no non-finite number, and resuming without the fault gives the
uninterrupted run bit for bit (so nothing of the bad step leaked anywhere).

The fault is injected with hooks on the model of a real run (runs.execute with its `loop`):
a forward hook on the output layer poisons one training row's logits at step K, or a gradient
hook poisons one parameter's gradient. The target rows (eval mode) are left alone.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from reliability_helpers import (
    EVERY,
    STEPS,
    assert_same_as_reference,
    check_ledger,
    checkpoint_steps,
    only_run,
)

from attribution_engine.errors import NonFiniteError
from attribution_engine.train_config import TrainConfig
from attribution_engine.training import run_loop
from db.schema import open_ledger
from provenance import runs

STEP, ROW = 5, 3  # poisoned step (from 0) and row within it: between checkpoints 4 and 6


class Poison:
    """A run_loop that poisons step STEP; checks that the step left the model untouched."""

    def __init__(self, where: str, value: float):
        self.where, self.value = where, value
        self.forwards, self.before = 0, None

    def loop(self, model, optimizer, *args, **kwargs):
        self.model = model
        handles = [model.get_output_embeddings().register_forward_hook(self._logits)]
        if self.where == "gradient":
            handles.append(model.transformer.h[0].ln_1.weight.register_hook(self._gradient))
        try:
            return run_loop(model, optimizer, *args, **kwargs)
        except NonFiniteError:
            # Nothing applied: the weights are those from before the step, the optimizer has
            # taken STEP steps, no gradient is left behind.
            assert all(torch.equal(v, self.before[k]) for k, v in model.state_dict().items())
            state = optimizer.state_dict()["state"].values()
            assert [float(s["step"]) for s in state] == [float(STEP)] * len(state)
            assert all(p.grad is None for p in model.parameters())
            raise
        finally:
            for handle in handles:
                handle.remove()

    def _logits(self, module, inputs, output):
        if not module.training:  # the target pass: leave it alone
            return None
        self.forwards += 1
        if self.forwards - 1 != STEP:
            return None
        self.before = {k: v.clone() for k, v in self.model.state_dict().items()}
        if self.where != "loss":
            return None
        poisoned = output.clone()
        poisoned[ROW, 1, 7] = self.value  # one logit of one token of one row
        return poisoned

    def _gradient(self, grad):
        return grad * self.value if self.forwards - 1 == STEP else grad


@pytest.mark.parametrize(
    ("where", "value"),
    [
        ("loss", float("nan")),
        pytest.param("loss", float("inf"), marks=[pytest.mark.slow, pytest.mark.reliability_full]),
        ("gradient", float("nan")),
    ],
)
def test_non_finite_stops_the_step_and_stores_nothing(
    reference, corpus_file, targets_file, tmp_path, where, value
):
    config = TrainConfig(steps=STEPS, batch_rows=8, lr=3e-3, checkpoint_every=EVERY)
    runs.train(corpus_file, tmp_path, config, targets_path=targets_file, runner=lambda path: None)
    path = tmp_path / "runs" / only_run(tmp_path)
    url = f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
    poison = Poison(where, value)
    with pytest.raises(NonFiniteError) as err:
        runs.execute(path, progress=False, ledger=open_ledger(url), loop=poison.loop)
    message = str(err.value)
    assert f"step {STEP} (from 0)" in message and "nothing was applied" in message
    row_docs = json.loads((path / "rows.json").read_text())
    chosen = np.load(path / "schedule.npy")[STEP]
    if where == "loss":
        assert err.value.rows == (ROW,)
        assert f"documents of the offending rows: [{row_docs[chosen[ROW]]!r}]" in message
    else:
        assert err.value.rows is None
        assert "non-finite gradients in ['transformer.h.0.ln_1.weight']" in message
        assert str(sorted({row_docs[i] for i in chosen})) in message
    # Stored state: the checkpoint and the ledger before the step, all finite.
    assert checkpoint_steps(path / "checkpoints")[-1] == 4
    assert check_ledger(url, path.name, STEPS, EVERY) == 4
    assert not (path / "results.npz").exists()
    # Resumed without the fault: exactly the uninterrupted run.
    runs.execute(path, progress=False, ledger=open_ledger(url))
    assert_same_as_reference(reference, tmp_path, path.name, url, STEPS)


def test_the_ledger_refuses_non_finite_values(tmp_path):
    """The last line of defence: the repository rejects NaN/Inf values outright."""
    from benchmarks.ledger_seed import document, seed_ledger
    from db.catalog import TargetRecord
    from db.models import TargetOrigin
    from db.rankings import top_documents
    from db.session import session_scope
    from db.values import write_document_values

    factory = open_ledger(f"sqlite:///{tmp_path / 'ledger.sqlite3'}")
    docs = [document(f"d{i}", f"t{i}") for i in (0, 1)]
    targets = [TargetRecord("t", "x", TargetOrigin.UPLOADED)]
    ids = seed_ledger(factory, docs, targets, run_key="r", corpus_sha256="a" * 64)
    with session_scope(factory) as session:
        write_document_values(session, "r", "t", ids, np.zeros(2), np.zeros(2))
    for bad in (np.nan, np.inf, -np.inf):
        with pytest.raises(ValueError, match="NaN or infinity"), session_scope(factory) as session:
            write_document_values(session, "r", "t", ids, np.array([1.0, bad]), np.zeros(2))
    with session_scope(factory) as session:
        assert top_documents(session, "r", "t", 2)["value"].tolist() == [0.0, 0.0]
