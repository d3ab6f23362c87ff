"""Item 16 of issue 18: a run folder's checkpoint is data, never code. A pickle planted as the
newest checkpoint (through a path a job could once name) is refused by `torch.load(...,
weights_only=True)` with a one-line error, and what it would have run never runs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from attribution_engine import checkpoint


class _Planted:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_planted_pickle_checkpoint_is_not_executed(tmp_path: Path) -> None:
    directory = tmp_path / "checkpoints"
    checkpoint.save(directory, 2, {"model": {"w": torch.zeros(2)}, "rng": torch.get_rng_state()})
    marker = tmp_path / "ran"
    torch.save({"model": _Planted(marker)}, directory / "step-00000004.pt")
    with pytest.raises(ValueError, match="other than tensors") as caught:
        checkpoint.latest(directory)
    assert not marker.exists()
    assert len(str(caught.value).splitlines()) == 1


def test_real_checkpoints_still_load(tmp_path: Path) -> None:
    directory = tmp_path / "checkpoints"
    state = {
        "model": {"w": torch.arange(3.0)},
        "optimizer": {"state": {}, "param_groups": [{"lr": 0.1, "params": [0]}]},
        "rng": torch.get_rng_state(),
        "record": {"step": [1, 2], "train_loss": [0.5, 0.25], "lrs": [0.1, 0.1]},
    }
    checkpoint.save(directory, 2, state)
    step, loaded = checkpoint.latest(directory)
    assert step == 2 and torch.equal(loaded["model"]["w"], state["model"]["w"])
