"""Sampling a target from a run's final model, in the UI process (reading a model, never
training). The model is loaded once per run directory and kept (st.cache_resource); torch
is imported only then, so the Targets page opens without it."""

from __future__ import annotations

from pathlib import Path

import streamlit as st


def model_dir(data_dir: Path, run_key: str) -> Path:
    return Path(data_dir) / "runs" / run_key / "model"


def runs_with_models(data_dir: Path, run_keys: list[str]) -> list[str]:
    """The runs whose final model is on disk under the data directory."""
    return [k for k in run_keys if (model_dir(data_dir, k) / "config.json").is_file()]


@st.cache_resource(show_spinner="Loading the model...", max_entries=2)
def _model(path: str):
    from attribution_engine.models import load_local_model  # torch: only when sampling

    model, tokenizer = load_local_model(Path(path))
    model.eval()
    return model, tokenizer


def sample(data_dir: Path, run_key: str, prompt: str, max_new_tokens: int, seed: int) -> str:
    """One sampled completion of `prompt` by the run's final model."""
    from attribution_engine.generate import generate

    model, tokenizer = _model(str(model_dir(data_dir, run_key)))
    (output,) = generate(model, tokenizer, [prompt], n=1, max_new_tokens=max_new_tokens, seed=seed)
    return output.text
