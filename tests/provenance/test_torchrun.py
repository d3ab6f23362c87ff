"""Two CPU processes under torchrun (gloo) give the values and final weights of one process that
runs the same global batches: `provenance train --nproc 2` against `provenance train`."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from safetensors.torch import load_file
from synthetic import run_cli, write_corpus

from attribution_engine.train_config import TrainConfig
from benchmarks.ledger_seed import make_recipe
from db.schema import open_ledger
from provenance import runs
from provenance.torchrun import launch


def _train(tmp_path: Path, out: str, *extra: str) -> Path:
    corpus, targets = tmp_path / "corpus.jsonl", tmp_path / "targets.jsonl"
    if not corpus.exists():
        docs = write_corpus(corpus, n_docs=40)
        lines = [{"id": "copy", "text": docs[17]["text"]}, {"id": "gen", "text": docs[3]["text"]}]
        targets.write_text("".join(json.dumps(line) + "\n" for line in lines))
    args = ["train", "--corpus", str(corpus), "--targets", str(targets), "--out", str(out)]
    args += ["--steps", "5", "--batch-rows", "3", "--accumulation", "2", "--lr", "3e-3"]
    args += ["--order", "2", "--checkpoint-every", "2", "--quiet", *extra]
    run_id = run_cli(*args, timeout=300)
    return Path(out) / "runs" / run_id


def _single_process_copy(two: Path, out: Path) -> Path:
    """The same prepared run (recipe, tokenizer, initial weights, schedule), run in one process."""
    one = out / "runs" / two.name
    one.mkdir(parents=True)
    for name in ("recipe.json", "rows.json", "schedule.npy", "initial.pt"):
        shutil.copy(two / name, one / name)
    shutil.copytree(two / "tokenizer", one / "tokenizer")
    runs.execute(one, progress=False, ledger=open_ledger(f"sqlite:///{out / 'ledger.sqlite3'}"))
    return one


def test_two_gloo_processes_equal_one_process(tmp_path):
    # Order 2 with AdamW and clipping: the Hessian-vector product, the Adam denominators and the
    # clip factor all read the summed gradient, so each would show a missing all-reduce.
    two = _train(tmp_path, str(tmp_path / "two"), "--nproc", "2")
    one = _single_process_copy(two, tmp_path / "one")
    a, b = np.load(two / "results.npz"), np.load(one / "results.npz")
    assert np.array_equal(a["visit_row"], b["visit_row"])
    assert np.array_equal(a["visit_step"], b["visit_step"])
    scale = np.abs(b["visit_values"]).max()
    assert scale > 0
    for key in ("visit_values", "values_sum", "predicted_drop", "target_loss", "train_loss"):
        assert np.abs(a[key] - b[key]).max() <= 1e-6 * np.abs(b[key]).max(), key
    first, second = (
        load_file(two / "model" / "model.safetensors"),
        load_file(one / "model" / "model.safetensors"),
    )
    assert max(float((first[k] - second[k]).abs().max()) for k in second) <= 1e-6
    # Rank 0 alone wrote the run's files, and the ledger got the gathered values.
    kept = sorted(p.name for p in (two / "checkpoints").iterdir())
    assert kept == ["step-00000004.pt", "step-00000005.pt"]  # the newest two, as in one process
    ledgers = [tmp_path / name / "ledger.sqlite3" for name in ("two", "one")]
    assert _ledger_total(ledgers[0], two.name) == pytest.approx(
        _ledger_total(ledgers[1], one.name), rel=1e-6
    )


def _ledger_total(path: Path, run_id: str) -> float:
    """The sum of the run's raw document values, read back from the SQLite ledger."""
    from sqlalchemy import create_engine, text

    engine = create_engine(f"sqlite:///{path}")
    with engine.connect() as connection:
        total, count = connection.execute(
            text("SELECT SUM(raw), COUNT(*) FROM document_values")
        ).one()
    engine.dispose()
    assert count > 0, f"no values of {run_id} in the ledger"
    return float(total)


def test_nproc_must_divide_the_micro_batches(tmp_path):
    make_recipe(config=TrainConfig(accumulation=3)).save(tmp_path)
    with pytest.raises(ValueError, match="--accumulation must be a multiple of --nproc"):
        launch(tmp_path, nproc=2)
