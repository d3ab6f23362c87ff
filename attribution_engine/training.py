"""The attributed training loop: a deterministic sample order, the AdamW recipe, gradient
accumulation, the engine attached to every step, atomic checkpoints and bit-exact resume.

Values are kept per visit (training row, target, step) in float64, so that views such as
"last epoch only" can be computed after training without a replay (DESIGN 2.4b).
Dimension legend: S steps, R rows per step, V target columns, n visits (= S * R).
"""

import contextlib
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from attribution_engine import checkpoint, faults
from attribution_engine.chunking import Row, collate
from attribution_engine.errors import NonFiniteError
from attribution_engine.step import InRunAttributor
from attribution_engine.train_config import TrainConfig


def lr_at(step: int, total: int, config: TrainConfig) -> float:
    """Linear warm-up to config.lr, then cosine decay to lr * min_lr_ratio (step from 0)."""
    if step < config.warmup_steps:
        return config.lr * (step + 1) / config.warmup_steps
    span = max(1, total - config.warmup_steps)
    progress = min(1.0, (step - config.warmup_steps) / span)
    floor = config.min_lr_ratio
    return config.lr * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress)))


def sample_schedule(n_rows: int, total: int, rows_per_step: int, seed: int) -> np.ndarray:
    """int64 [S, R]: the rows of every step; one seeded permutation per epoch, no partial step."""
    generator = torch.Generator().manual_seed(seed)
    per_epoch = max(1, n_rows // rows_per_step)
    blocks, filled = [], 0
    while filled < total:
        order = torch.randperm(n_rows, generator=generator)[: per_epoch * rows_per_step]
        blocks.append(order.view(-1, rows_per_step)[: total - filled])
        filled += blocks[-1].shape[0]
    return torch.cat(blocks).numpy()


def make_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    params = [p for p in model.parameters() if p.requires_grad]
    if config.optimizer == "sgd":
        return torch.optim.SGD(params, lr=config.lr, weight_decay=config.weight_decay)
    return torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)


@dataclass
class LoopResult:
    """Everything a run measured, as arrays (float64 values; positive = lowered the loss)."""

    visit_step: np.ndarray  # int64 [n]
    visit_row: np.ndarray  # int64 [n], index into the run's rows
    visit_values: np.ndarray  # float64 [n, V]
    values_sum: np.ndarray  # float64 [S, V], sum of the step's values
    predicted_drop: np.ndarray  # float64 [S, V], g_v . (w_before - w_after)
    decay_drop: np.ndarray  # float64 [S, V], the part of predicted_drop weight decay made
    target_loss: np.ndarray  # float64 [S, V], before each step
    final_target_loss: np.ndarray  # float64 [V], after the last step
    train_loss: np.ndarray  # float64 [S]
    lrs: np.ndarray  # float64 [S]

    @property
    def realised_drop(self) -> np.ndarray:
        """float64 [S, V]: each step's actual drop of every target's loss."""
        after = np.vstack([self.target_loss[1:], self.final_target_loss[None]])
        return self.target_loss - after


def run_loop(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    rows: Sequence[Row],
    pad_id: int,
    targets: dict[str, torch.Tensor],
    config: TrainConfig,
    schedule: np.ndarray,
    checkpoint_dir: Path,
    progress: bool = True,
    on_checkpoint: Callable[[int, LoopResult], None] | None = None,
    attributor_class: type[InRunAttributor] = InRunAttributor,
    saves_checkpoints: bool = True,
    on_step: Callable[[int], None] | None = None,
) -> LoopResult:
    """Train over `schedule` with every step attributed to `targets`; resumes from the newest
    checkpoint in `checkpoint_dir` if there is one, and leaves a final one there.

    Under torchrun (attribution_engine.distributed) every rank runs this loop with
    `attributor_class=DistributedAttributor`; only rank 0 has `saves_checkpoints`.
    `on_checkpoint(done, partial)` runs after each checkpoint file, and once on resume for the
    checkpoint resumed from; `on_step(done)` after every optimizer step (live progress: keep
    it cheap)."""
    total = schedule.shape[0]
    record = _Record.empty()
    start = 0
    found = checkpoint.latest(checkpoint_dir)
    if found is not None:
        start, payload = found
        model.load_state_dict(payload["model"])
        optimizer.load_state_dict(payload["optimizer"])
        torch.random.set_rng_state(payload["rng"])
        record = _Record(**payload["record"])
        if saves_checkpoints and on_checkpoint is not None:
            # A crash between this checkpoint and its ledger commit lost that commit (its
            # trajectory snapshot included): redo it. Idempotent when it did land.
            on_checkpoint(start, record.result(None))
    attribution = config.attribution()
    bar = tqdm(total=total, initial=start, disable=not progress, desc="steps", unit="step")
    with attributor_class(model, optimizer, targets, attribution) as attributor:
        for step in range(start, total):
            lr = lr_at(step, total, config)
            for group in optimizer.param_groups:
                group["lr"] = lr
            chosen = schedule[step]
            micro = [
                collate([rows[i] for i in part], pad_id)
                for part in np.array_split(chosen, config.accumulation)
            ]
            try:
                result = attributor.step(micro[0] if len(micro) == 1 else micro)
            except NonFiniteError as err:
                raise NonFiniteError(_non_finite(err, step, chosen, rows), err.rows) from err
            record.add(step, chosen, result, lr)
            faults.point("training.after_step")
            bar.update(1)
            bar.set_postfix(loss=f"{result.train_loss:.3f}")
            done = step + 1
            if on_step is not None:
                on_step(done)
            if saves_checkpoints and (done % config.checkpoint_every == 0 or done == total):
                state = {
                    "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "rng": torch.random.get_rng_state(),
                    "record": record.as_payload(),
                }
                checkpoint.save(checkpoint_dir, done, state)
                if on_checkpoint is not None:  # after the file: the ledger never runs ahead
                    on_checkpoint(done, record.result(None))
        final = attributor.target_losses().numpy()
    bar.close()
    return record.result(final)


def _non_finite(err: NonFiniteError, step: int, chosen: np.ndarray, rows: Sequence[Row]) -> str:
    """The engine's message with the step and the documents it concerns."""
    picked = [int(chosen[i]) for i in err.rows] if err.rows is not None else list(chosen)
    docs = sorted({rows[i].doc_id for i in picked})
    which = "documents of the offending rows" if err.rows is not None else "documents in the step"
    return (
        f"step {step} (from 0) stopped before anything was applied or stored: {err}. {which}: "
        f"{docs}. Usually a learning rate too high for the data or a corrupted row; the ledger "
        "and the checkpoints hold the last good step: lower --lr or fix the rows, then resume"
    )


@dataclass
class _Record:
    """Per-step measurements so far; stored in checkpoints as plain tensors."""

    step: list[int]
    rows: list[list[int]]
    values: list[torch.Tensor]
    values_sum: list[torch.Tensor]
    predicted: list[torch.Tensor]
    target_loss: list[torch.Tensor]
    train_loss: list[float]
    lrs: list[float]
    # Absent from checkpoints written before it was measured: NaN (unknown) for those steps.
    decay: list[torch.Tensor] = field(default_factory=list)

    @classmethod
    def empty(cls) -> "_Record":
        return cls([], [], [], [], [], [], [], [])

    def add(self, step: int, chosen: np.ndarray, result, lr: float) -> None:
        self.step.append(step)
        self.rows.append([int(i) for i in chosen])
        self.values.append(result.values)
        self.values_sum.append(result.values_sum)
        self.predicted.append(result.predicted_drop)
        self.decay.append(result.decay_drop)
        self.target_loss.append(result.target_losses)
        self.train_loss.append(result.train_loss)
        self.lrs.append(lr)

    def as_payload(self) -> dict:
        return {key: list(value) for key, value in self.__dict__.items()}

    def result(self, final: np.ndarray | None) -> LoopResult:
        """As arrays; `final` (target losses after the last step) is empty until the end."""
        per_step = [len(rows) for rows in self.rows]
        return LoopResult(
            visit_step=np.repeat(np.array(self.step, dtype=np.int64), per_step),
            visit_row=np.array([i for rows in self.rows for i in rows], dtype=np.int64),
            visit_values=torch.cat(self.values).numpy(),
            values_sum=torch.stack(self.values_sum).numpy(),
            predicted_drop=torch.stack(self.predicted).numpy(),
            decay_drop=self._decay(),
            target_loss=torch.stack(self.target_loss).numpy(),
            final_target_loss=np.asarray([] if final is None else final, dtype=np.float64),
            train_loss=np.array(self.train_loss, dtype=np.float64),
            lrs=np.array(self.lrs, dtype=np.float64),
        )

    def _decay(self) -> np.ndarray:
        """[S, V]; NaN for steps from a checkpoint written before decay was measured."""
        unknown = len(self.predicted) - len(self.decay)
        known = torch.stack(self.decay).numpy() if self.decay else None
        if unknown == 0:
            return known
        gap = np.full((unknown, self.predicted[0].shape[0]), np.nan)
        return gap if known is None else np.vstack([gap, known])


@dataclass(frozen=True)
class CostEstimate:
    seconds: float  # whole run, from one timed probe step
    peak_mib: float  # resident memory the probe step added, plus optimizer state
    disk_mib: float  # checkpoints kept (2) plus the per-visit results

    def __str__(self) -> str:
        minutes, seconds = divmod(round(self.seconds), 60)
        return (
            f"estimated cost: {minutes} min {seconds} s, about {self.peak_mib:.0f} MiB of "
            f"memory, {self.disk_mib:.0f} MiB on disk"
        )


def estimate_cost(
    model: nn.Module,
    rows: Sequence[Row],
    pad_id: int,
    targets: dict[str, torch.Tensor],
    config: TrainConfig,
    total: int,
) -> CostEstimate:
    """Time one attributed step on the first rows (weights untouched) and scale it up."""
    from attribution_engine.step import step_values  # the probe: scores, changes nothing

    batch = collate(list(rows[: config.batch_rows]), pad_id)
    before = _high_water_mib(reset=True)
    start = time.perf_counter()
    step_values(model, batch, targets, lr=config.lr, order=config.order)
    per_micro = time.perf_counter() - start
    params = sum(p.numel() * p.element_size() for p in model.parameters()) / 2**20
    visits = total * config.rows_per_step * targets["input_ids"].shape[0] * 8 / 2**20
    # Adam-aware values and the optimizer step add about a fifth to the probe (benchmarks).
    return CostEstimate(
        seconds=per_micro * config.accumulation * total * 1.2,
        peak_mib=max(0.0, _high_water_mib() - before) + 3 * params,
        disk_mib=2 * 3 * params + 2 * visits,
    )


def _high_water_mib(reset: bool = False) -> float:
    """Peak resident memory of this process (Linux); reset first when asked and possible."""
    status = Path("/proc/self/status")
    if not status.exists():
        return 0.0
    if reset:
        # Not permitted everywhere: the estimate then counts from the earlier peak.
        with contextlib.suppress(OSError):
            Path("/proc/self/clear_refs").write_text("5")
    for line in status.read_text().splitlines():
        if line.startswith("VmHWM"):
            return int(line.split()[1]) / 1024
    return 0.0
