"""Job payloads built from the Runs page's form, validated before anything is queued
(pure: no Streamlit). Payload formats: provenance/jobs.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

TINY = "tiny-gpt2"  # provenance.runs.TINY, without importing torch into the page


def train_payload(
    corpus: str,
    model: str,
    *,
    steps: int,
    order: int,
    seed: int,
    batch_rows: int = 16,
    lr: float = 3e-4,
    accounting: str = "auto",
) -> dict[str, Any]:
    """The "train" job payload; ValueError says which field is wrong and how to fix it."""
    corpus_path = Path(corpus.strip()).expanduser()
    if not corpus.strip():
        raise ValueError("give the corpus: a JSONL or CSV file, or a folder of .txt files")
    if not corpus_path.exists():
        raise ValueError(f"corpus {corpus_path} does not exist on the server; check the path")
    model = model.strip() or TINY
    if model != TINY and not (Path(model).expanduser() / "config.json").is_file():
        raise ValueError(
            f"model {model!r} is neither {TINY} nor a local Hugging Face model folder "
            "(a folder with config.json); nothing is downloaded"
        )
    from attribution_engine.train_config import TrainConfig

    config = TrainConfig(
        steps=steps, order=order, seed=seed, batch_rows=batch_rows, lr=lr, accounting=accounting
    )
    return {
        "corpus": str(corpus_path.resolve()),
        "targets": None,
        "model": model,
        "config": config.as_dict(),
        "lenient": False,
    }
