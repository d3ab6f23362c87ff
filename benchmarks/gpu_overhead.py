"""Overhead of attributed steps on a GPU, against the paper's A100 figures.

The engine benchmark (benchmarks/overhead.py) at the paper's scale: a 124M GPT-2-shaped model
(12 layers, width 768, vocabulary 50257), a batch of 16 rows x 1024 tokens, one target of 1024
tokens, bf16 autocast around the model's forward (the values themselves are computed in fp32 and
accumulated in fp64, outside autocast). Variants are interleaved round by round; each ratio is a
median step time over the median plain AdamW step. The paper (Wang et al., In-Run Data Shapley,
A100) reports 1.08x for first order and 2.2x for second order.

    benchmarks/gpu_overhead.sh                                   # <= 5 minutes on one GPU
    .venv/bin/python -m benchmarks.gpu_overhead --device cpu --tiny   # the logic, on a CPU
"""

import argparse
import copy
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from attribution_engine import Accounting, AttributionConfig, InRunAttributor
from attribution_engine.objective import predicted_counts, row_loss_sums
from benchmarks.gpt2_model import gpt2, token_rows

PAPER_A100 = {1: 1.08, 2: 2.2}  # x plain training step, In-Run Data Shapley paper


@dataclass(frozen=True)
class Shape:
    layers: int = 12  # GPT-2 small: 124M parameters with the tied 50257 x 768 embedding
    width: int = 768
    heads: int = 12
    vocab: int = 50257
    rows: int = 16
    tokens: int = 1024
    targets: int = 1
    target_tokens: int = 1024


TINY = Shape(layers=2, width=32, heads=2, vocab=128, rows=4, tokens=16, target_tokens=16)


@dataclass(frozen=True)
class Variant:
    name: str
    order: int = 0  # 0: plain training, no attribution
    accounting: Accounting = Accounting.SGD_PROXY  # the paper's form


VARIANTS = [
    Variant("plain AdamW step"),
    Variant("1st order, SGD proxy (paper)", 1),
    Variant("1st order, Adam-aware", 1, Accounting.ADAM),
    Variant("2nd order, SGD proxy (paper)", 2),
]


class Autocast(nn.Module):
    """The model with its forward under autocast, as a bf16 training script runs it. The
    wrapper holds no parameters, so the engine hooks the model's own modules unchanged."""

    def __init__(self, model: nn.Module, device: torch.device, dtype: torch.dtype) -> None:
        super().__init__()
        self.model, self.device_type, self.dtype = model, device.type, dtype

    def forward(self, **inputs):
        with torch.autocast(self.device_type, dtype=self.dtype):
            return self.model(**inputs)


def build(shape: Shape, device: torch.device, seed: int = 0):
    torch.manual_seed(seed)
    positions = max(shape.tokens, shape.target_tokens)
    model = gpt2(
        shape.layers,
        shape.width,
        shape.heads,
        shape.vocab,
        positions,
        device=device,
        attention="sdpa",
    )
    batch = token_rows(shape.vocab, shape.rows, shape.tokens, device)
    return model, batch, token_rows(shape.vocab, shape.targets, shape.target_tokens, device)


def make_step(variant: Variant, model, batch, targets, device, dtype) -> Callable[[], None]:
    """One training step of this variant, on its own copy of the model and optimizer."""
    model = Autocast(copy.deepcopy(model), device, dtype)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-4)
    if variant.order == 0:
        n_total = int(predicted_counts(batch["labels"]).sum())

        def plain() -> None:
            optimizer.zero_grad(set_to_none=True)
            (row_loss_sums(model, batch).sum() / n_total).backward()
            optimizer.step()

        return plain
    config = AttributionConfig(order=variant.order, accounting=variant.accounting)
    attributor = InRunAttributor(model, optimizer, targets, config)
    return lambda: attributor.step(batch)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure(shape: Shape, device: torch.device, rounds: int, warmup: int = 2) -> dict[str, float]:
    """Median seconds per step of every variant, interleaved round by round."""
    model, batch, targets = build(shape, device)
    steps = {v.name: make_step(v, model, batch, targets, device, torch.bfloat16) for v in VARIANTS}
    del model
    for step in steps.values():
        for _ in range(warmup):  # kernels, allocator, optimizer state
            step()
    times: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(rounds):
        for name, step in steps.items():
            _sync(device)
            start = time.perf_counter()
            step()
            _sync(device)
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def report(shape: Shape, medians: dict[str, float], device_name: str, rounds: int) -> str:
    """The result table: each variant's ratio to the plain step, beside the paper's figure."""
    plain = medians[VARIANTS[0].name]
    floor = 1 + shape.targets * shape.target_tokens / (shape.rows * shape.tokens)
    lines = [
        f"device: {device_name}; shape: {shape}; bf16 autocast; median of {rounds} steps",
        f"physical floor 1 + V*T'/(B*T) = {floor:.3f}",
        "| variant | step ms | x plain | paper A100 |",
        "|---|---:|---:|---:|",
    ]
    for variant in VARIANTS:
        seconds = medians[variant.name]
        paper = PAPER_A100.get(variant.order) if "paper" in variant.name else None
        paper_text = f"{paper:.2f}x" if paper else "-"
        lines.append(
            f"| {variant.name} | {seconds * 1000:.1f} | {seconds / plain:.2f}x | {paper_text} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda", help="cuda (default) or cpu (logic only)")
    parser.add_argument("--tiny", action="store_true", help="a tiny shape (checks, not figures)")
    parser.add_argument("--rounds", type=int, default=5, help="timed steps per variant")
    args = parser.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        print(
            "gpu_overhead: CUDA is not available here (torch "
            f"{torch.__version__}), so there is nothing to measure. Run it on a machine with an "
            "NVIDIA GPU and a CUDA build of torch; for the CPU-side logic: --device cpu --tiny",
            file=sys.stderr,
        )
        return 2
    device = torch.device(args.device)
    shape = TINY if args.tiny else Shape()
    medians = measure(shape, device, args.rounds)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    print(report(shape, medians, name, args.rounds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
