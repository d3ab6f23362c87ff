"""Cost of an attributed step against a plain training step, measured in one process run.

Same model shape, same inputs, same thread count for every variant; variants are interleaved
round by round so that outside load hits all of them alike, and the median step time of each
is reported as a ratio to the plain AdamW step. Peak memory is measured for each variant in a
process of its own (VmHWM above the resident size before the first step).

    .venv/bin/python -m benchmarks.overhead                       # both README tables (make bench)
    .venv/bin/python -m benchmarks.overhead --shape small         # 4 x 256, about eight minutes
    .venv/bin/python -m benchmarks.overhead --shape gpt2-small    # 12 x 768, vocabulary 50,257
    .venv/bin/python -m benchmarks.overhead --quick               # a smaller shape, seconds

Every process runs on jemalloc with page decay off where the machine has it, as the training
commands do (provenance/allocator.py); `--allocator system` measures glibc's.

At the GPT-2-small shape the plain step is a batch of 4 rows of 256 tokens (about 8 s on one
thread of this project's CPU, under the ~10 s the issue allows), targets of 64 tokens, and the
variants are first order for 1, 8, 32 and 64 targets under each accounting and second order
for 1 target; the torch.func per-sample baseline is left out there (it holds every row's
gradient of 124M parameters).
"""

import argparse
import json
import math
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
from attribution_engine.budget import TargetMemory
from attribution_engine.capture import Capture, uses_by_parameter
from attribution_engine.ghost import FactoredUse, Scale, parameter_values
from attribution_engine.objective import predicted_counts, row_loss_sums
from attribution_engine.step import target_pass
from benchmarks.gpt2_model import gpt2, token_rows
from provenance.allocator import reexec_with_jemalloc, using_jemalloc


@dataclass(frozen=True)
class Shape:
    layers: int = 4
    width: int = 256
    vocab: int = 8192
    rows: int = 16
    tokens: int = 128
    target_tokens: int = 64
    # Target counts of the first-order variants, and the largest the floor parts time.
    target_counts: tuple[int, ...] = (1, 8)
    per_sample_baseline: bool = True  # the torch.func baseline holds B copies of the gradient


QUICK = Shape(layers=2, width=64, vocab=1024, rows=8, tokens=32, target_tokens=16)
# GPT-2 small (124M parameters with its tied 50,257 x 768 embedding): 4 x 256 training tokens
# keep a plain single-thread CPU step under ~10 s; targets of 64 tokens as at the small shape.
GPT2_SMALL = Shape(
    layers=12,
    width=768,
    vocab=50257,
    rows=4,
    tokens=256,
    target_tokens=64,
    target_counts=(1, 8, 32, 64),
    per_sample_baseline=False,
)
SHAPES = {"small": Shape(), "gpt2-small": GPT2_SMALL, "quick": QUICK}


@dataclass(frozen=True)
class Variant:
    name: str
    targets: int = 0  # 0: no attribution
    accounting: Accounting = Accounting.ADAM
    preconditioner: Preconditioner = Preconditioner.EXACT
    order: int = 1
    per_sample_baseline: bool = False


def _targets(n: int) -> str:
    return f"{n} target" if n == 1 else f"{n} targets"


def variants(shape: Shape) -> list[Variant]:
    """The plain step first (every ratio's denominator), then each accounting over the shape's
    target counts, second order for one target, and the per-sample baseline where it fits."""
    out = [Variant("plain AdamW step")]
    first = [
        ("SGD proxy", Accounting.SGD_PROXY, Preconditioner.EXACT),
        ("Adam exact", Accounting.ADAM, Preconditioner.EXACT),
        ("Adam factored", Accounting.ADAM, Preconditioner.FACTORED),
    ]
    for label, accounting, preconditioner in first:
        for n in shape.target_counts:
            out.append(Variant(f"1st order, {label}, {_targets(n)}", n, accounting, preconditioner))
    out.append(Variant("2nd order, SGD proxy, 1 target", 1, Accounting.SGD_PROXY, order=2))
    out.append(Variant("2nd order, Adam exact, 1 target", 1, order=2))
    if shape.per_sample_baseline:
        out.append(Variant("torch.func per-sample grads, 1 target", 1, per_sample_baseline=True))
    return out


def build(shape: Shape, seed: int = 0):
    torch.manual_seed(seed)
    heads = max(1, shape.width // 64)
    positions = max(shape.tokens, shape.target_tokens)
    model = gpt2(shape.layers, shape.width, heads, shape.vocab, positions)
    batch = token_rows(shape.vocab, shape.rows, shape.tokens)
    n_targets = max(8, *shape.target_counts)
    return model, batch, token_rows(shape.vocab, n_targets, shape.target_tokens)


def make_step(variant: Variant, model, optimizer, batch, targets) -> Callable[[], None]:
    """A closure that performs one training step of this variant. Every variant trains the
    same model and optimizer (at GPT-2-small width a copy each, with its Adam state, was 2 GiB
    per variant); an attributor's hooks do nothing outside its own steps."""
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


def time_variants(shape: Shape, chosen: list[Variant], rounds: int) -> dict[str, float]:
    model, batch, targets = build(shape)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-4)
    steps = {v.name: make_step(v, model, optimizer, batch, targets) for v in chosen}
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


def floor_parts(
    shape: Shape, rounds: int, max_targets: int | None = None
) -> dict[int, tuple[float, float]]:
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
        for n_targets in [n for n in (1, 8) if max_targets is None or n <= max_targets]:
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


def own_pass_seconds(shape: Shape, rounds: int) -> float:
    """Seconds of one target row's own forward and backward, weight gradients included: the
    part of one more target that no attribution method avoids (the marginal goal's unit)."""
    model, _, targets = build(shape)
    one = {key: value[:1] for key, value in targets.items()}

    def forward_backward() -> None:
        model.zero_grad(set_to_none=True)
        row_loss_sums(model, one).sum().backward()

    return _median_seconds(forward_backward, rounds)


def marginal_rows(
    chosen: list[Variant], medians: dict[str, float], own: float
) -> list[tuple[str, int, float, float]]:
    """(accounting, targets, seconds per target beyond 8, x own forward/backward): the slope
    of the step time from 8 targets to each larger count timed, per first-order accounting."""
    rows = []
    eights = {_accounting(v): v for v in chosen if v.order == 1 and v.targets == 8}
    for variant in chosen:
        base = eights.get(_accounting(variant))
        if variant.order != 1 or variant.targets <= 8 or base is None:
            continue
        if variant.name not in medians or base.name not in medians:
            continue
        per_target = (medians[variant.name] - medians[base.name]) / (variant.targets - 8)
        rows.append((_accounting(variant), variant.targets, per_target, per_target / own))
    return rows


def _accounting(variant: Variant) -> str:
    """The variant's name without its target count: "1st order, SGD proxy"."""
    return variant.name.rsplit(", ", 1)[0]


def rss_kib(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def peak_memory_child(shape: Shape, name: str, threads: int) -> None:
    """In its own process: MiB that the variant's steps add above the resident size before."""
    torch.set_num_threads(threads)
    variant = next(v for v in variants(shape) if v.name == name)
    model, batch, targets = build(shape)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-4)
    step = make_step(variant, model, optimizer, batch, targets)
    before = rss_kib("VmRSS")
    for _ in range(3):
        step()
    print(json.dumps({"peak_mib": (rss_kib("VmHWM") - before) / 1024}))


def peak_memory(shape_name: str, chosen: list[Variant], threads: int) -> dict[str, float]:
    out = {}
    for variant in chosen:
        args = [sys.executable, "-m", "benchmarks.overhead", "--child", variant.name]
        args += ["--threads", str(threads), "--shape", shape_name]
        root = Path(__file__).resolve().parents[1]  # where `benchmarks` is a package
        result = subprocess.run(args, capture_output=True, text=True, check=True, cwd=root)
        out[variant.name] = json.loads(result.stdout.strip().splitlines()[-1])["peak_mib"]
    return out


def report(shape: Shape, name: str, threads: int, rounds: int, args) -> None:
    """Time, floor and (unless --no-memory) peak memory of one shape; prints its tables."""
    chosen = [
        v
        for v in variants(shape)
        if v.targets == 0
        or (
            (args.max_targets is None or v.targets <= args.max_targets)
            and (not args.only or any(part in v.name for part in args.only))
        )
    ]
    timed = not args.memory_only
    medians = time_variants(shape, chosen, rounds) if timed else {}
    floors = floor_parts(shape, rounds, args.max_targets) if timed else {}
    own = own_pass_seconds(shape, rounds) if timed else math.nan
    memory = {} if args.no_memory else peak_memory(name, chosen, threads)
    plain_name = chosen[0].name
    plain = medians.get(plain_name, math.nan)
    print(f"\nshape {name}: {shape}, threads {threads}, median of {rounds} steps")
    print(f"allocator: {'jemalloc, page decay off' if using_jemalloc() else 'the system (glibc)'}")
    floors_text = ", ".join(
        f"{1 + n * shape.target_tokens / (shape.rows * shape.tokens):.3f} ({_targets(n)})"
        for n in sorted(floors)
    )
    print(f"physical floor 1 + V*T'/(B*T): {floors_text}")
    model = build(shape)[0]
    estimate = TargetMemory.estimate(Capture(model).hooked, shape.vocab, shape.target_tokens, 4)
    print(
        f"engine's estimate per target (attribution_engine/budget.py): captures kept "
        f"{estimate.kept / 2**20:.1f} MiB, its pass {estimate.passing / 2**20:.1f} MiB"
    )
    print("| variant | step ms | x plain | peak MiB | x plain |")
    print("|---|---:|---:|---:|---:|")
    for variant in chosen:
        ms = medians.get(variant.name, math.nan) * 1000
        mem = memory.get(variant.name)
        mem_text = f"{mem:.0f} | {mem / memory[plain_name]:.2f}" if mem else "- | -"
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
    marginal = marginal_rows(chosen, medians, own)
    if marginal:
        print(f"\none target's own forward and backward: {own * 1000:.1f} ms")
        print("| accounting | targets | ms per target beyond 8 | x its own forward/backward |")
        print("|---|---:|---:|---:|")
        for accounting, n_targets, per_target, ratio in marginal:
            print(f"| {accounting} | {n_targets} | {per_target * 1000:.1f} | {ratio:.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--shape",
        action="append",
        choices=sorted(SHAPES),
        help="shape to measure, repeatable (default: small, then gpt2-small)",
    )
    parser.add_argument("--quick", action="store_true", help="same as --shape quick")
    parser.add_argument(
        "--rounds", type=int, help="timed steps per variant (default: 7 small, 3 gpt2-small)"
    )
    parser.add_argument("--threads", type=int, default=1, help="torch threads (pinned)")
    parser.add_argument(
        "--max-targets", type=int, help="leave out variants with more targets (default: none)"
    )
    parser.add_argument("--no-memory", action="store_true", help="skip the memory processes")
    parser.add_argument("--memory-only", action="store_true", help="skip the timed steps")
    parser.add_argument(
        "--only",
        action="append",
        help="keep variants whose name contains this (repeatable; the plain step is always kept)",
    )
    parser.add_argument(
        "--allocator",
        choices=["jemalloc", "system"],
        default="jemalloc",
        help="jemalloc with page decay off, as the training commands run (provenance/allocator.py;"
        " where the machine has it), or the system's (default: jemalloc)",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.allocator == "jemalloc":
        reexec_with_jemalloc()  # the memory children inherit it
    names = args.shape or (["quick"] if args.quick else ["small", "gpt2-small"])
    if args.child:
        peak_memory_child(SHAPES[names[0]], args.child, args.threads)
        return
    torch.set_num_threads(args.threads)
    for name in names:
        rounds = args.rounds or (3 if name == "gpt2-small" else 7)
        report(SHAPES[name], name, args.threads, rounds, args)


if __name__ == "__main__":
    main()
