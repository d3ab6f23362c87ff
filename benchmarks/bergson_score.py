"""Run in a subprocess by `bergson_peer` with PYTHONPATH=.peers/bergson: Bergson's TrackStar
pipeline (autocorrelation Hessians of the documents and the queries, mixed; random projection
to 16 dimensions per module; unit-normalised gradients; scores) over WORK/documents.jsonl for
WORK/queries.jsonl at the model saved in WORK/model, on the CPU; writes WORK/scores.npy [V, D].

    PYTHONPATH=.peers/bergson .venv/bin/python benchmarks/bergson_score.py WORK
"""

import runpy
import shutil
import sys
from pathlib import Path

import numpy as np


def main(work: Path) -> None:
    from bergson.data import load_scores

    run = work / "run"
    shutil.rmtree(run, ignore_errors=True)
    n_docs = sum(1 for _ in (work / "documents.jsonl").open())
    sys.argv = [
        "bergson", "trackstar", str(run),
        "--model", str(work / "model"),
        "--data.dataset", str(work / "documents.jsonl"),
        "--query.dataset", str(work / "queries.jsonl"),
        "--projection_dim", "16",
        "--unit_normalize", "true",
        "--stats_sample_size", str(n_docs),
        # The tiny GPT-2's context is 128 tokens; Bergson's default token batch is 2,048.
        "--token_batch_size", "128",
        "--data.truncation", "true",
    ]  # fmt: skip
    runpy.run_module("bergson", run_name="__main__")
    scores = load_scores(run / "scores")
    matrix = np.stack([np.asarray(scores.mmap[f"score_{i}"]) for i in range(scores.num_scores)])
    np.save(work / "scores.npy", matrix)  # [V, D]


if __name__ == "__main__":
    main(Path(sys.argv[1]))
