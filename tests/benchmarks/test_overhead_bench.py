"""benchmarks/overhead.py's timed parts at its quick shape: every part is measured for one and
eight targets, and the benchmark's three exact strategies agree on the values they time."""

import importlib.util
import math
from pathlib import Path

import torch
from oracle import rel_err

from attribution_engine.capture import Capture, uses_by_parameter
from attribution_engine.ghost import Scale, parameter_values
from attribution_engine.objective import predicted_counts, row_loss_sums
from attribution_engine.step import target_pass

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("overhead", ROOT / "benchmarks/overhead.py")
bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench)


def test_floor_parts_times_the_target_pass_and_the_arithmetic_for_1_and_8_targets():
    parts = bench.floor_parts(bench.QUICK, rounds=1)
    assert set(parts) == {1, 8}
    for pass_seconds, arithmetic in parts.values():
        assert math.isfinite(pass_seconds) and pass_seconds > 0
        assert math.isfinite(arithmetic) and arithmetic > 0


def test_the_timed_strategies_compute_the_same_values():
    """The floor takes the fastest strategy per parameter: each must compute the same numbers."""
    model, batch, targets = bench.build(bench.QUICK)
    model = model.double()
    n_total = int(predicted_counts(batch["labels"]).sum())
    chosen = {key: value[:3] for key, value in targets.items()}
    with Capture(model) as capture:
        with capture.recording(bench.QUICK.rows, bench.QUICK.tokens) as calls:
            (row_loss_sums(model, batch).sum() / n_total).backward()
        train = uses_by_parameter(calls)
        theirs = uses_by_parameter(target_pass(model, capture, chosen)[1])
    weight = model.transformer.h[0].mlp.c_fc.weight
    values = [
        parameter_values(train[weight], theirs[weight], Scale(1.0), weight.shape, None, s, 3)
        for s in bench.EXACT_STRATEGIES
    ]
    assert values[0].shape == (bench.QUICK.rows, 3) and values[0].abs().max() > 0
    for other in values[1:]:
        assert rel_err(other, values[0]) < 1e-10
    assert torch.isfinite(values[0]).all()


def test_the_gpt2_small_shape_times_every_accounting_at_1_8_32_64_targets():
    names = [v.name for v in bench.variants(bench.GPT2_SMALL)]
    shape = bench.GPT2_SMALL
    assert (shape.layers, shape.width, shape.vocab) == (12, 768, 50257)
    assert names[0] == "plain AdamW step"
    for label in ("SGD proxy", "Adam exact", "Adam factored"):
        for n in ("1 target", "8 targets", "32 targets", "64 targets"):
            assert f"1st order, {label}, {n}" in names
    assert "2nd order, Adam exact, 1 target" in names
    assert not any("per-sample" in name for name in names)  # B copies of 124M would not fit
    assert bench.build(bench.QUICK)[2]["input_ids"].shape[0] == 8


def test_the_marginal_target_is_the_slope_from_8_targets_against_one_targets_own_pass():
    chosen = bench.variants(bench.GPT2_SMALL)
    medians = {v.name: 10.0 + v.targets * 0.5 for v in chosen}
    medians["1st order, Adam exact, 64 targets"] = 10.0 + 8 * 0.5 + 56 * 0.75
    rows = {
        (accounting, n): (s, ratio)
        for accounting, n, s, ratio in bench.marginal_rows(chosen, medians, own=0.25)
    }
    assert set(rows) == {
        (f"1st order, {label}", n)
        for label in ("SGD proxy", "Adam exact", "Adam factored")
        for n in (32, 64)
    }
    assert rows[("1st order, SGD proxy", 32)] == (0.5, 2.0)
    assert rows[("1st order, Adam exact", 64)] == (0.75, 3.0)
    assert bench.marginal_rows(chosen, {}, own=0.25) == []  # nothing timed, nothing claimed


def test_one_targets_own_forward_and_backward_is_timed():
    seconds = bench.own_pass_seconds(bench.QUICK, rounds=1)
    assert math.isfinite(seconds) and seconds > 0
