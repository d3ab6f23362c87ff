"""The engine's closed-form values against Monte Carlo Shapley of the true one-step utility.

A tiny GPT-2 (float64) is trained for a few AdamW steps on SOTU paragraphs, so the weights and
Adam's state are those of a real run. At the next step (a batch of 16 rows, V targets: two
copies of passages in the batch and two unrelated paragraphs) the game is DESIGN 2.1's

    U(S) = loss_v(w) - loss_v(w - sum_{i in S} s_i)

with s_i row i's share of the update: lr * g_i (SGD) or lr * g_i / (sqrt(v_hat) + eps) (Adam
with the step's bias-corrected second moment held fixed, DESIGN 2.4), g_i the gradient of row
i's token-loss sum over the batch's label-token count, exactly as the engine defines it. The
utility is evaluated exactly (the target's loss at the moved weights), so the Monte Carlo
permutation estimate converges to the true Shapley value; the engine's first- and second-order
values come from `step_values` (SGD) and `InRunAttributor` (Adam) at the same weights.

    .venv/bin/python -m benchmarks.fidelity_mc            # the docs/fidelity.md table
    .venv/bin/python -m benchmarks.fidelity_mc --quick    # fewer permutations, seconds
"""

from __future__ import annotations

import argparse
import copy
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from attribution_engine import Accounting, AttributionConfig, InRunAttributor, step_values
from attribution_engine.chunking import chunk_documents, collate, encode_targets
from attribution_engine.models import TinyGPT2Config, tiny_gpt2
from attribution_engine.modes import eval_mode
from attribution_engine.objective import predicted_counts, row_loss_sums
from attribution_engine.shapley import adam_second_moment
from attribution_engine.tokenizer import train_bpe_tokenizer
from benchmarks.fidelity_common import (
    DEFAULT_OUT,
    log,
    pin_threads,
    sample_records,
    sotu_records,
    spearman,
    table,
)


@dataclass(frozen=True)
class MCConfig:
    rows: int = 16  # the batch of the step (issue 7)
    documents: int = 400  # SOTU paragraphs the model warms up on
    vocab: int = 512  # small vocabulary: many exact utility evaluations must stay cheap
    context: int = 64
    warm_steps: int = 60  # real AdamW steps before the scored one: trained weights and state
    warm_lr: float = 1e-3
    max_grad_norm: float = 1.0  # the product recipe clips; the game's step is the clipped one
    # 50 antithetic pairs; the printed standard error says whether that is enough.
    permutations: int = 100
    lrs: tuple[float, ...] = (1e-4, 1e-3, 1e-2)  # spans the 1e-4 to 1e-2
    seed: int = 0
    threads: int = 1  # 2 threads on a shared 2-core machine ran 5-10x slower (measured)


@dataclass
class Game:
    """The step to score: float64 model at its weights, the batch, targets, Adam state."""

    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    batch: dict[str, torch.Tensor]
    targets: dict[str, torch.Tensor]
    names: list[str]


def build_game(config: MCConfig, out: Path) -> Game:
    """Warm a tiny model up with real AdamW steps; return the next step's batch and targets."""
    records = sample_records(sotu_records(out), config.documents, config.seed)
    texts = [r["text"] for r in records]
    tokenizer = train_bpe_tokenizer(texts[: config.documents - 2], config.vocab)
    rows = chunk_documents([(r["id"], r["text"]) for r in records[:-2]], tokenizer, config.context)
    shape = TinyGPT2Config(n_positions=config.context)
    model = tiny_gpt2(len(tokenizer), shape, seed=config.seed).double()
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.warm_lr, weight_decay=0.01)
    generator = torch.Generator().manual_seed(config.seed)
    order = torch.randperm(len(rows), generator=generator).tolist()
    pad = tokenizer.pad_token_id
    for step in range(config.warm_steps):
        chosen = order[step * config.rows : (step + 1) * config.rows]
        batch = collate([rows[i] for i in chosen], pad)
        optimizer.zero_grad(set_to_none=True)
        loss = row_loss_sums(model, batch).sum() / predicted_counts(batch["labels"]).sum()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.max_grad_norm)
        optimizer.step()
    start = config.warm_steps * config.rows
    batch_rows = [rows[i] for i in order[start : start + config.rows]]
    batch = collate(batch_rows, pad)
    # Two copies of passages in this batch (the first 40 tokens of rows 0 and 1), two unrelated
    # held-out paragraphs: targets the batch should help strongly and ones it should not.
    copies = [tokenizer.decode(row.input_ids[:40]) for row in batch_rows[:2]]
    unrelated = [tokenizer.decode(tokenizer(t)["input_ids"][:40]) for t in texts[-2:]]
    targets = encode_targets(copies + unrelated, [None] * 4, tokenizer, config.context)
    names = ["copy of row 0", "copy of row 1", "unrelated A", "unrelated B"]
    return Game(model, optimizer, batch, targets, names)


def per_row_shares(
    game: Game, accounting: Accounting, lr: float, max_grad_norm: float
) -> tuple[list[list[torch.Tensor]], float]:
    """(s_i per row and parameter, the clip factor c): the row's share of the clipped update,
    lr * c * g_i (SGD) or lr * c * g_i / (sqrt(v_hat) + eps) (Adam, v_hat of the clipped
    gradient), exactly as the engine credits it (DESIGN 2.3, 2.4)."""
    model, batch = game.model, game.batch
    params = [p for p in model.parameters() if p.requires_grad]
    n_total = predicted_counts(batch["labels"]).sum()
    grads = []
    for i in range(batch["input_ids"].shape[0]):
        row = {k: v[i : i + 1] for k, v in batch.items()}
        loss = row_loss_sums(model, row)[0] / n_total
        grads.append([g.detach() for g in torch.autograd.grad(loss, params)])
    total = [sum(row[k] for row in grads) for k in range(len(params))]
    norm = float(torch.nn.utils.get_total_norm(total))
    c = min(1.0, max_grad_norm / (norm + 1e-6))  # as clip_grad_norm_
    if accounting is Accounting.SGD_PROXY:
        return [[lr * c * g for g in row] for row in grads], c
    # v_hat of the coming step from the clipped batch gradient, as the optimizer will.
    scales = []
    eps = game.optimizer.param_groups[0]["eps"]
    for p, g in zip(params, total, strict=True):
        p.grad = c * g
        scales.append(lr * c / (adam_second_moment(game.optimizer, p).sqrt() + eps))
        p.grad = None
    return [[s * g for s, g in zip(scales, row, strict=True)] for row in grads], c


def target_losses(game: Game) -> torch.Tensor:
    counts = predicted_counts(game.targets["labels"])
    with torch.no_grad(), eval_mode(game.model):
        return row_loss_sums(game.model, game.targets) / counts


def monte_carlo(
    game: Game, shares: list[list[torch.Tensor]], permutations: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """(Shapley estimate [B, V], its standard error [B, V]) from antithetic permutations."""
    params = [p for p in game.model.parameters() if p.requires_grad]
    base = [p.detach().clone() for p in params]
    n = len(shares)
    generator = np.random.default_rng(seed)
    marginals = []  # one [B, V] per permutation
    order = np.arange(n)
    start = target_losses(game)
    try:
        for k in range(permutations):
            order = generator.permutation(n) if k % 2 == 0 else order[::-1]
            moved = [torch.zeros_like(b) for b in base]
            before, marginal = start, torch.zeros(n, start.shape[0], dtype=torch.float64)
            for i in order:
                with torch.no_grad():
                    for p, b, m, s in zip(params, base, moved, shares[i], strict=True):
                        m += s
                        p.copy_(b - m)
                after = target_losses(game)
                marginal[i] = before - after  # U(S + i) - U(S): the extra drop
                before = after
            marginals.append(marginal)
    finally:
        with torch.no_grad():
            for p, b in zip(params, base, strict=True):
                p.copy_(b)
    stacked = torch.stack(marginals).numpy()  # [P, B, V]
    # Antithetic pairs are the independent draws: average each pair before the error.
    pairs = stacked[: permutations // 2 * 2].reshape(-1, 2, n, start.shape[0]).mean(axis=1)
    return stacked.mean(axis=0), pairs.std(axis=0, ddof=1) / np.sqrt(pairs.shape[0])


def engine_values(
    game: Game, accounting: Accounting, lr: float, c: float, max_grad_norm: float
) -> tuple[np.ndarray, np.ndarray]:
    """(first-order [B, V], first + second order [B, V]) from the engine at the same weights."""
    if accounting is Accounting.SGD_PROXY:
        # step_values scores an unclipped step: the clip factor scales s_i once in the first
        # order term and twice (s_i and sum_j s_j) in the second, as in InRunAttributor.
        first = step_values(game.model, game.batch, game.targets, lr=lr, order=1)
        both = step_values(game.model, game.batch, game.targets, lr=lr, order=2)
        return (first * c).numpy(), (first * c + (both - first) * c * c).numpy()
    model = copy.deepcopy(game.model)  # the attributor takes a real step: on a copy
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    optimizer.load_state_dict(game.optimizer.state_dict())
    for group in optimizer.param_groups:
        group["lr"] = lr
    config = AttributionConfig(order=2, accounting=Accounting.ADAM, max_grad_norm=max_grad_norm)
    with InRunAttributor(model, optimizer, game.targets, config) as attributor:
        result = attributor.step(game.batch)
    both = result.values.numpy()
    return both - result.second_order.numpy(), both


def compare(config: MCConfig, out: Path) -> list[list[object]]:
    """One table row per (accounting, lr, order)."""
    game = build_game(config, out)
    lines = []
    for accounting in (Accounting.SGD_PROXY, Accounting.ADAM):
        for lr in config.lrs:
            started = time.perf_counter()
            shares, c = per_row_shares(game, accounting, lr, config.max_grad_norm)
            mc, error = monte_carlo(game, shares, config.permutations, config.seed)
            first, both = engine_values(game, accounting, lr, c, config.max_grad_norm)
            spread = mc.std()
            log(f"{accounting.value} lr {lr:g}: {time.perf_counter() - started:.1f} s")
            for order, values in ((1, first), (2, both)):
                per_target = [spearman(values[:, v], mc[:, v]) for v in range(mc.shape[1])]
                rmse = float(np.sqrt(((values - mc) ** 2).mean()))
                lines.append(
                    [
                        accounting.value,
                        f"{lr:g}",
                        c,
                        order,
                        spearman(values.ravel(), mc.ravel()),
                        min(per_target),
                        rmse,
                        rmse / spread,
                        float(np.median(error) / spread),
                    ]
                )
    return lines


HEADERS = (
    "accounting",
    "lr",
    "clip factor c",
    "order",
    "Spearman (all B*V)",
    "Spearman (worst target)",
    "RMSE (nats)",
    "RMSE / sd(MC)",
    "MC std. error / sd(MC)",
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="20 permutations")
    parser.add_argument("--permutations", type=int, default=MCConfig.permutations)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    config = MCConfig(permutations=20 if args.quick else args.permutations)
    pin_threads(config.threads)
    started = time.perf_counter()
    lines = compare(config, args.out)
    print(
        f"Monte Carlo Shapley ({config.permutations} antithetic permutations) of the true "
        f"one-step utility vs the engine; batch {config.rows}, 4 targets, float64"
    )
    print(table(HEADERS, lines))
    print(f"total {time.perf_counter() - started:.0f} s on {config.threads} threads")


if __name__ == "__main__":
    main()
