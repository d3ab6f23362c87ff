"""Helpers of the reliability suite: the run recipe, the CLI in a subprocess, the full marker."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from synthetic import write_corpus  # noqa: F401  (re-exported: the run tests' corpus)

# Fast and full tests share the run recipe: 54 training documents, 8 rows a step.
STEPS, EVERY = 12, 2
FULL_STEPS, FULL_EVERY = 36, 3  # 12 checkpoints: room for 6 kills


def full(test):
    """Mark a test as part of the full suite only (excluded by the default `-m 'not slow'`)."""
    return pytest.mark.slow(pytest.mark.reliability_full(test))


def train_args(
    corpus: Path, targets: Path, out: Path, url: str, steps: int = STEPS, every: int = EVERY
):
    return [
        "train",
        "--corpus",
        str(corpus),
        "--targets",
        str(targets),
        "--out",
        str(out),
        "--steps",
        str(steps),
        "--batch-rows",
        "8",
        "--lr",
        "3e-3",
        "--checkpoint-every",
        str(every),
        "--quiet",
        "--db",
        url,
    ]


def run_cli(args: list[str], env: dict[str, str] | None = None, timeout: float = 300):
    """The CLI in a subprocess, as a user or the worker runs it: CompletedProcess (text)."""
    return subprocess.run(
        [sys.executable, "-m", "provenance.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={**os.environ, "OMP_NUM_THREADS": "1", **(env or {})},
    )


VALUE_TABLES = ("document_values", "visit_values", "value_snapshots", "efficiency")


def reference_run(
    corpus: Path, targets: Path, out: Path, url: str, steps: int = STEPS, every: int = EVERY
):
    """An uninterrupted run of the same recipe, in this process; returns its id."""
    from attribution_engine.train_config import TrainConfig
    from db.schema import open_ledger
    from provenance import runs

    config = TrainConfig(steps=steps, batch_rows=8, lr=3e-3, checkpoint_every=every)
    return runs.train(
        corpus, out, config, targets_path=targets, progress=False, ledger=open_ledger(url)
    )


def only_run(out: Path) -> str:
    (run_id,) = [p.name for p in (out / "runs").iterdir()]
    return run_id


def outputs(out: Path, run_id: str) -> dict:
    """results.npz arrays and summary.json of a finished run."""
    import json

    import numpy as np

    path = out / "runs" / run_id
    data = dict(np.load(path / "results.npz"))
    data["summary"] = json.loads((path / "summary.json").read_text())
    return data


def ledger_rows(url: str) -> dict[str, list[tuple]]:
    """Every row of the value tables, in primary-key order (the ledger holds one run)."""
    from sqlalchemy import select

    from db.models import Base
    from db.session import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            found = {}
            for name in VALUE_TABLES:
                table = Base.metadata.tables[name]
                query = select(table).order_by(*table.primary_key.columns)
                found[name] = [tuple(row) for row in connection.execute(query)]
            return found
    finally:
        engine.dispose()


def run_state(url: str, run_key: str):
    """(committed step, status name, final weights hash) of a run in the ledger, or None."""
    from sqlalchemy import select

    from db.models import Run
    from db.session import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            row = connection.execute(
                select(Run.committed_step, Run.status, Run.final_weights_sha256).where(
                    Run.run_key == run_key
                )
            ).one_or_none()
        return None if row is None else (row[0], row[1].name, row[2])
    finally:
        engine.dispose()


def checkpoint_steps(directory: Path) -> list[int]:
    """Steps of the checkpoints in `directory`, after checking that EVERY one loads and that
    `checkpoint.latest` picks the newest: no unloadable checkpoint is ever the latest."""
    import torch

    from attribution_engine import checkpoint

    steps = []
    for path in sorted(directory.glob("step-*.pt")):
        payload = torch.load(path, map_location="cpu", weights_only=False)
        assert {"model", "optimizer", "rng", "record"} <= set(payload), path
        steps.append(int(path.stem.split("-")[1]))
    found = checkpoint.latest(directory)
    assert (found[0] if found else None) == (max(steps) if steps else None)
    return steps


COLUMNS = 1 + 8  # the target and the 8 corpus reference documents (the default count)
ARRAYS = (
    "visit_step",
    "visit_row",
    "visit_values",
    "values_sum",
    "predicted_drop",
    "target_loss",
    "final_target_loss",
    "train_loss",
    "lrs",
)


def check_ledger(url: str, run_id: str, total: int, every: int) -> int:
    """The ledger is at a commit point, holds exactly its committed steps, all finite."""
    from db.values import unpack_visits

    committed, _, _ = run_state(url, run_id)
    assert committed % every == 0 or committed == total
    rows = ledger_rows(url)
    visits: dict[int, list[int]] = {}
    for _, target, step, n_rows, payload in rows["visit_values"]:
        visits.setdefault(target, []).append(step)
        values, _ = unpack_visits(payload, n_rows)
        assert np.isfinite(values).all()
    assert len(visits) == (COLUMNS if committed else 0)
    assert all(steps == list(range(committed)) for steps in visits.values())
    assert len(rows["efficiency"]) == committed * COLUMNS
    assert {r[0] for r in rows["value_snapshots"]} <= {1}
    assert sorted({r[2] for r in rows["value_snapshots"]}) == list(
        range(every, committed + 1, every)
    )
    for name in ("document_values", "value_snapshots", "efficiency"):
        assert all(math.isfinite(x) for r in rows[name] for x in r if isinstance(x, float))
    return committed


def assert_same_as_reference(reference, out: Path, run_id: str, url: str, steps: int) -> None:
    expected, expected_rows = reference
    got = outputs(out, run_id)
    for key in ARRAYS:
        assert np.array_equal(got[key], expected[key]), key
    final = expected["summary"]["final_weights_sha256"]
    assert got["summary"]["final_weights_sha256"] == final
    assert run_state(url, run_id) == (steps, "DONE", final)
    rows = ledger_rows(url)
    for name, expected_table in expected_rows.items():
        assert len(rows[name]) == len(expected_table), name
        assert rows[name] == expected_table, name
