"""Cost of an attributed step against a plain training step, measured in one process run.

Same model shape, same inputs, same thread count for every variant; variants are interleaved
round by round so that outside load hits all of them alike, and the median step time of each
is reported as a ratio to the plain AdamW step. Peak memory is measured for each variant in a
process of its own (VmHWM above the resident size before the first step).

    .venv/bin/python -m benchmarks.overhead            # the README table (make bench)
    .venv/bin/python -m benchmarks.overhead --quick    # a smaller shape, seconds
"""

import argparse
import copy
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import torch
from torch.func import functional_call, grad, vmap

from attribution_engine import (
    Accounting,
    AttributionConfig,
    InRunAttributor,
    Preconditioner,
    Strategy,
)
from attribution_engine.capture import Capture, uses_by_parameter
from attribution_engine.ghost import FactoredUse, Scale, parameter_values
from attribution_engine.objective import predicted_counts, row_loss_sums
from attribution_engine.step import target_pass
from benchmarks.gpt2_model import gpt2, token_rows


@dataclass(frozen=True)
class Shape:
    layers: int = 4
    width: int = 256
    vocab: int = 8192
    rows: int = 16
    tokens: int = 128
    target_tokens: int = 64


QUICK = Shape(layers=2, width=64, vocab=1024, rows=8, tokens=32, target_tokens=16)


@dataclass(frozen=True)
class Variant:
    name: str
    targets: int = 0  # 0: no attribution
    accounting: Accounting = Accounting.ADAM
    preconditioner: Preconditioner = Preconditioner.EXACT
    order: int = 1
    per_sample_baseline: bool = False


VARIANTS = [
    Variant("plain AdamW step"),
    Variant("1st order, SGD proxy, 1 target", 1, Accounting.SGD_PROXY),
    Variant("1st order, SGD proxy, 8 targets", 8, Accounting.SGD_PROXY),
    Variant("1st order, Adam exact, 1 target", 1),
    Variant("1st order, Adam exact, 8 targets", 8),
    Variant("1st order, Adam factored, 1 target", 1, preconditioner=Preconditioner.FACTORED),
    Variant("1st order, Adam factored, 8 targets", 8, preconditioner=Preconditioner.FACTORED),
    Variant("2nd order, SGD proxy, 1 target", 1, Accounting.SGD_PROXY, order=2),
    Variant("2nd order, Adam exact, 1 target", 1, order=2),
    Variant("torch.func per-sample grads, 1 target", 1, per_sample_baseline=True),
]


def build(shape: Shape, seed: int = 0):
    torch.manual_seed(seed)
    heads = max(1, shape.width // 64)
    positions = max(shape.tokens, shape.target_tokens)
    model = gpt2(shape.layers, shape.width, heads, shape.vocab, positions)
    batch = token_rows(shape.vocab, shape.rows, shape.tokens)
    return model, batch, token_rows(shape.vocab, 8, shape.target_tokens)


def make_step(variant: Variant, model, batch, targets) -> Callable[[], None]:
    """A closure that performs one training step of this variant on its own model copy."""
    model = copy.deepcopy(model)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-4)
    chosen = {key: value[: variant.targets] for key, value in targets.items()}
    n_total = int(predicted_counts(batch["labels"]).sum())
    if variant.targets == 0:

        def plain() -> None:
            optimizer.zero_grad(set_to_none=True)
            (row_loss_sums(model, batch).sum() / n_total).backward()
            optimizer.step()

        return plain
    if variant.per_sample_baseline:
        return per_sample_step(model, optimizer, batch, chosen, n_total)
    config = AttributionConfig(
        order=variant.order, accounting=variant.accounting, preconditioner=variant.preconditioner
    )
    attributor = InRunAttributor(model, optimizer, chosen, config)
    return lambda: attributor.step(batch)


def per_sample_step(model, optimizer, batch, targets, n_total) -> Callable[[], None]:
    """Baseline: per-sample gradients by torch.func (vmap over grad), dotted with g_v."""
    params = {name: p for name, p in model.named_parameters()}

    def row_loss(weights, ids, labels):
        rows = {"input_ids": ids[None]}  # no mask: HF mask code branches on data under vmap
        logits = functional_call(model, weights, (), rows).logits
        loss = torch.nn.functional.cross_entropy(logits[0, :-1], labels[1:], reduction="sum")
        return loss / n_total

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        weights = {name: p.detach() for name, p in params.items()}
        per_row = vmap(grad(row_loss), in_dims=(None, 0, 0))(
            weights, batch["input_ids"], batch["labels"]
        )
        model.eval()
        target_loss = row_loss_sums(model, targets).sum() / predicted_counts(targets["labels"])
        g_v = torch.autograd.grad(target_loss.sum(), list(params.values()))
        model.train()
        dots = sum(
            (per_row[name].flatten(1) @ g.flatten()) for name, g in zip(params, g_v, strict=True)
        )
        for name, p in params.items():
            p.grad = per_row[name].sum(0)
        optimizer.step()
        del dots

    return step


def time_variants(shape: Shape, rounds: int) -> dict[str, float]:
    model, batch, targets = build(shape)
    steps = {v.name: make_step(v, model, batch, targets) for v in VARIANTS}
    for step in steps.values():  # warm-up: allocator, kernels, optimizer state
        step()
    times: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(rounds):
        for name, step in steps.items():
            start = time.perf_counter()
            step()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def _median_seconds(work: Callable[[], object], rounds: int) -> float:
    work()  # warm-up
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


EXACT_STRATEGIES = [Strategy.GRAM, Strategy.PER_SAMPLE, Strategy.TARGET]


def floor_parts(shape: Shape, rounds: int) -> dict[int, tuple[float, float]]:
    """{targets: (target pass s, value arithmetic s)}: the two pieces of an attributed step
    that grow with the targets, timed alone on tensors captured once, with no hooks, glue or
    efficiency check around them.

    The target pass is the targets' forward and backward to the module outputs. The value
    arithmetic is, for every parameter, the fastest of the engine's exact strategies (Gram,
    per-sample, target-materialise), each timed, so the cost model's choice is not assumed.
    """
    model, batch, targets = build(shape)
    n_total = int(predicted_counts(batch["labels"]).sum())
    out = {}
    with Capture(model) as capture:
        with capture.recording(shape.rows, shape.tokens) as calls:
            (row_loss_sums(model, batch).sum() / n_total).backward()
        train = uses_by_parameter(calls)
        for n_targets in (1, 8):
            chosen = {key: value[:n_targets] for key, value in targets.items()}
            pass_seconds = _median_seconds(partial(target_pass, model, capture, chosen), rounds)
            theirs = uses_by_parameter(target_pass(model, capture, chosen)[1])
            arithmetic = 0.0
            for p in model.parameters():
                if p not in train or p not in theirs:
                    continue
                factored = all(isinstance(u, FactoredUse) for u in train[p] + theirs[p])
                strategies = EXACT_STRATEGIES if factored else [Strategy.AUTO]
                arithmetic += min(
                    _median_seconds(
                        partial(
                            parameter_values,
                            train[p],
                            theirs[p],
                            Scale(1.0),
                            p.shape,
                            None,
                            strategy,
                            n_targets,
                        ),
                        rounds,
                    )
                    for strategy in strategies
                )
            out[n_targets] = (pass_seconds, arithmetic)
    return out


def rss_kib(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def peak_memory_child(shape: Shape, name: str, threads: int) -> None:
    """In its own process: MiB that the variant's steps add above the resident size before."""
    torch.set_num_threads(threads)
    variant = next(v for v in VARIANTS if v.name == name)
    model, batch, targets = build(shape)
    step = make_step(variant, model, batch, targets)
    before = rss_kib("VmRSS")
    for _ in range(3):
        step()
    print(json.dumps({"peak_mib": (rss_kib("VmHWM") - before) / 1024}))


def peak_memory(shape: Shape, threads: int, quick: bool) -> dict[str, float]:
    out = {}
    for variant in VARIANTS:
        args = [sys.executable, "-m", "benchmarks.overhead", "--child", variant.name]
        args += ["--threads", str(threads)] + (["--quick"] if quick else [])
        root = Path(__file__).resolve().parents[1]  # where `benchmarks` is a package
        result = subprocess.run(args, capture_output=True, text=True, check=True, cwd=root)
        out[variant.name] = json.loads(result.stdout.strip().splitlines()[-1])["peak_mib"]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small shape, for a smoke run")
    parser.add_argument("--rounds", type=int, default=7, help="timed steps per variant")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (pinned)")
    parser.add_argument("--no-memory", action="store_true", help="skip the memory processes")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    shape = QUICK if args.quick else Shape()
    if args.child:
        peak_memory_child(shape, args.child, args.threads)
        return
    torch.set_num_threads(args.threads)
    medians = time_variants(shape, args.rounds)
    floors = floor_parts(shape, args.rounds)
    memory = {} if args.no_memory else peak_memory(shape, args.threads, args.quick)
    plain = medians[VARIANTS[0].name]
    floor = 1 + shape.target_tokens / (shape.rows * shape.tokens)
    print(f"shape: {shape}, threads {args.threads}, median of {args.rounds} steps")
    print(
        f"physical floor 1 + V*T'/(B*T): {floor:.3f} (1 target), "
        f"{1 + 8 * shape.target_tokens / (shape.rows * shape.tokens):.3f} (8 targets)"
    )
    print("| variant | step ms | x plain | peak MiB | x plain |")
    print("|---|---:|---:|---:|---:|")
    for variant in VARIANTS:
        ms = medians[variant.name] * 1000
        mem = memory.get(variant.name)
        mem_text = f"{mem:.0f} | {mem / memory[VARIANTS[0].name]:.2f}" if mem else "- | -"
        print(f"| {variant.name} | {ms:.1f} | {ms / 1000 / plain:.2f} | {mem_text} |")
    print("\nthe target pass and the value arithmetic alone (see floor_parts):")
    print("| targets | target pass ms | value arithmetic ms | plain + both, x plain |")
    print("|---:|---:|---:|---:|")
    for n_targets, (pass_seconds, arithmetic) in floors.items():
        floor_ratio = 1 + (pass_seconds + arithmetic) / plain
        print(
            f"| {n_targets} | {pass_seconds * 1000:.1f} | {arithmetic * 1000:.1f} | "
            f"{floor_ratio:.3f} |"
        )


if __name__ == "__main__":
    main()
