"""benchmarks/gpu_overhead.py without a GPU: its shape is GPT-2 small, its logic runs at a tiny
shape on the CPU (bf16 autocast included), and without CUDA it stops with a clear message."""

import importlib.util
import math
import os
from pathlib import Path

import pytest
import torch
from transformers import GPT2Config, GPT2LMHeadModel

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("gpu_overhead", ROOT / "benchmarks/gpu_overhead.py")
bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench)


def test_default_shape_is_gpt2_small_at_16_x_1024():
    shape = bench.Shape()
    assert (shape.rows, shape.tokens) == (16, 1024)
    config = GPT2Config(
        n_layer=shape.layers, n_embd=shape.width, n_head=shape.heads, vocab_size=shape.vocab
    )
    with torch.device("meta"):
        model = GPT2LMHeadModel(config)
    assert round(sum(p.numel() for p in model.parameters()) / 1e6) == 124


def test_tiny_shape_on_cpu_reports_every_ratio():
    medians = bench.measure(bench.TINY, torch.device("cpu"), rounds=1, warmup=1)
    assert set(medians) == {v.name for v in bench.VARIANTS}
    assert all(math.isfinite(s) and s > 0 for s in medians.values())
    table = bench.report(bench.TINY, medians, "cpu", 1)
    assert "| plain AdamW step |" in table and "| 1.00x |" in table
    assert "| 1.08x |" in table and "| 2.20x |" in table  # the paper's A100 figures beside ours


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here")
def test_without_cuda_it_exits_with_a_clear_message(capsys):
    assert bench.main([]) == 2
    assert "CUDA is not available" in capsys.readouterr().err


def test_shell_wrapper_is_bounded_to_five_minutes():
    script = ROOT / "benchmarks" / "gpu_overhead.sh"
    assert os.access(script, os.X_OK)
    text = script.read_text()
    assert "timeout" in text and " 300 " in text and "-m benchmarks.gpu_overhead" in text
