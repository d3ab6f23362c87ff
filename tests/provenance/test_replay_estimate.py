"""The pre-queue replay estimate is calibrated from measured throughput: the newest speed
measured on the run or its replays, scaled to the target rows of the replay asked for."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from provenance import pending
from provenance.pending import Throughput, scaled_seconds_per_step


def _summary(path: Path, mtime: int, **fields) -> None:
    path.mkdir(parents=True)
    (path / "summary.json").write_text(json.dumps(fields))
    os.utime(path / "summary.json", (mtime, mtime))


def test_newest_measurement_first_and_partial_attempts_counted(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    _summary(runs / "r", 100, steps=144, seconds=20.0)  # written before speeds were recorded
    _summary(runs / "r-attr-1", 300, steps=144, steps_run=44, loop_seconds=11.0, target_rows=7)
    _summary(runs / "r-attr-2", 200, steps=144, seconds=30.0, target_rows=5)
    (runs / "r-attr-3").mkdir()  # unfinished: no summary
    found = pending.measured_throughputs(tmp_path, "r")
    assert [t.run_id for t in found] == ["r-attr-1", "r-attr-2", "r"]
    assert found[0].steps_per_second == 4.0  # the 44 steps a resumed attempt ran, in 11 s
    assert found[2].target_rows is None


def test_step_time_grows_with_the_rows_of_a_step() -> None:
    measured = Throughput("r", steps=100, seconds=50.0, target_rows=4)  # 0.5 s per step
    assert scaled_seconds_per_step(measured, 8, 4) == 0.5
    assert scaled_seconds_per_step(measured, 8, 16) == pytest.approx(0.5 * 24 / 12)
    unknown = Throughput("r", steps=100, seconds=50.0, target_rows=None)
    assert scaled_seconds_per_step(unknown, 8, 16) == 0.5  # nothing to scale from
