"""Bergson (EleutherAI's data-attribution library) as a peer of the planted benchmark, run in a
subprocess against a copy installed under .peers/bergson, never in the project's venv:

    .venv/bin/pip install --no-deps --target .peers/bergson bergson datasets jaxtyping \\
        ml_dtypes natsort simple-parsing petname torchopt dill multiprocess xxhash \\
        wadler-lindig docstring-parser optree graphviz

(the project's torch, transformers, accelerate and peft are used as they are). CI never installs
it: the benchmark then prints why it skipped this peer.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

PEERS = Path(".peers/bergson")
SCRIPT = Path(__file__).with_name("bergson_score.py")


@dataclass
class Outcome:
    scores: np.ndarray | None  # float64 [D, V], higher = more influential; None when skipped
    seconds: float
    reason: str  # why it was skipped ("" when it ran)


def scores(model, tokenizer, run, planted, work: Path) -> Outcome:
    """Bergson's scores of the run's documents for its planted targets, at the model's final
    weights, or the reason it could not run."""
    if not (PEERS / "bergson").is_dir():
        return Outcome(None, 0.0, f"not installed under {PEERS}/ (see benchmarks/bergson_peer.py)")
    work.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(work / "model")
    tokenizer.save_pretrained(work / "model")
    texts = {
        (p.source_id, level): p.text(level)
        for p in planted
        for level in ("verbatim", "paraphrase", "heavy", "topic")
    }
    _write(work / "documents.jsonl", run.doc_texts)
    _write(work / "queries.jsonl", [texts[name] for name in run.target_names])
    env = dict(
        os.environ,
        PYTHONPATH=str(PEERS.resolve()),
        CUDA_VISIBLE_DEVICES="",
        HF_HUB_OFFLINE="1",
        HF_DATASETS_OFFLINE="1",
        OMP_NUM_THREADS="1",
    )
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, str(SCRIPT), str(work)],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        tail = " | ".join(done.stderr.strip().splitlines()[-3:])
        return Outcome(None, seconds, f"bergson failed (exit {done.returncode}): {tail}")
    matrix = np.load(work / "scores.npy").astype(np.float64)  # [V, D]
    return Outcome(matrix.T, seconds, "")


def _write(path: Path, texts) -> None:
    with path.open("w", encoding="utf-8") as handle:
        for text in texts:
            handle.write(json.dumps({"text": text}) + "\n")
