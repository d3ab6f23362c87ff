"""Do the values predict what removing a document actually does? (issue 7, item 3)

A small run (tiny GPT-2, AdamW with warm-up and clipping, a seeded SOTU sample, one epoch) is
trained once with the engine attached, for one target: the opening of one training paragraph
(the product's question: which documents made the model produce this?). For the 10 highest- and
10 lowest-valued documents and 10 random others, the run is replayed without that document
(same initial weights, same seed, same sample order; its rows are simply missing from their
batches) and the target's final loss is measured. The leave-one-out effect of a document is
loss_without - loss_with (positive = the document lowered the loss, the sign of the values).
Reported: Pearson and Spearman correlation of the effects with the Adam-aware values (the
default) and with the SGD-proxy values computed at the same weights.

    .venv/bin/python -m benchmarks.leave_one_out
    .venv/bin/python -m benchmarks.leave_one_out --quick   # 4 + 4 + 4 documents
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from attribution_engine import AttributionConfig, InRunAttributor, step_values
from attribution_engine.chunking import chunk_documents, collate, encode_targets
from attribution_engine.models import TinyGPT2Config, tiny_gpt2
from attribution_engine.modes import eval_mode
from attribution_engine.objective import predicted_counts, row_loss_sums
from attribution_engine.tokenizer import train_bpe_tokenizer
from attribution_engine.train_config import TrainConfig
from attribution_engine.training import lr_at, make_optimizer, sample_schedule
from benchmarks.fidelity_common import (
    DEFAULT_OUT,
    log,
    pearson,
    pin_threads,
    sample_records,
    sotu_records,
    spearman,
    table,
)

# Small and short so that 31 full replays take minutes: 64-token rows, 512 tokens, one epoch.
LOO_RECIPE = TrainConfig(
    epochs=1, batch_rows=8, context=64, lr=1e-3, warmup_steps=5, vocab_size=512, threads=1
)


@dataclass(frozen=True)
class LOOConfig:
    documents: int = 80  # training paragraphs; the target copies the opening of the first
    recipe: TrainConfig = LOO_RECIPE
    per_group: int = 10  # top, bottom and random documents each
    seed: int = 0


@dataclass
class Setup:
    doc_ids: list[str]
    rows: list  # chunking.Row
    schedule: np.ndarray  # int64 [S, R]
    pad: int
    vocab: int
    target: dict[str, torch.Tensor]


def prepare(config: LOOConfig, out: Path) -> Setup:
    train_records = sample_records(sotu_records(out), config.documents, config.seed)
    recipe = config.recipe
    tokenizer = train_bpe_tokenizer((r["text"] for r in train_records), recipe.vocab_size)
    rows = chunk_documents([(r["id"], r["text"]) for r in train_records], tokenizer, recipe.context)
    total = recipe.total_steps(len(rows))
    schedule = sample_schedule(len(rows), total, recipe.rows_per_step, recipe.seed)
    text = tokenizer.decode(tokenizer(train_records[0]["text"])["input_ids"][:40])
    target = encode_targets([text], [None], tokenizer, recipe.context)
    return Setup(
        [r["id"] for r in train_records],
        rows,
        schedule,
        tokenizer.pad_token_id,
        len(tokenizer),
        target,
    )


def _model(setup: Setup, recipe: TrainConfig):
    model = tiny_gpt2(setup.vocab, TinyGPT2Config(n_positions=recipe.context), seed=recipe.seed)
    return model, make_optimizer(model, recipe)


def attributed_run(setup: Setup, recipe: TrainConfig) -> tuple[dict[str, np.ndarray], float]:
    """Per-document values {"default": [D], "sgd": [D]} and the target's final loss; "default"
    is the engine's default accounting (Adam-aware under AdamW, the SGD game under SGD)."""
    model, optimizer = _model(setup, recipe)
    index = {d: k for k, d in enumerate(setup.doc_ids)}
    row_doc = np.array([index[r.doc_id] for r in setup.rows])
    values = {"default": np.zeros(len(index)), "sgd": np.zeros(len(index))}
    config = AttributionConfig(max_grad_norm=recipe.max_grad_norm)
    total = setup.schedule.shape[0]
    with InRunAttributor(model, optimizer, setup.target, config) as attributor:
        for step in range(total):
            lr = _set_lr(optimizer, step, total, recipe)
            batch = collate([setup.rows[i] for i in setup.schedule[step]], setup.pad)
            sgd = step_values(model, batch, setup.target, lr=lr)[:, 0]
            result = attributor.step(batch)
            where = row_doc[setup.schedule[step]]
            np.add.at(values["default"], where, result.values[:, 0].numpy())
            np.add.at(values["sgd"], where, (sgd * result.clip_factor).numpy())
        final = float(attributor.target_losses()[0])
    return values, final


def plain_run(
    setup: Setup, recipe: TrainConfig, without: str | None, keep_normaliser: bool = False
) -> float:
    """The same training with no engine and without one document's rows; final target loss.

    The same steps as `InRunAttributor.step`: token-sum loss over the step's label count,
    clipping, AdamW; a batch left empty by the removal is skipped (the lr schedule still moves).
    `keep_normaliser`: divide by the full batch's label count, so the other rows' gradients are
    exactly the g_j of the attributed run (the game of DESIGN 2.1 drops a term of the sum);
    otherwise the smaller batch is renormalised, as retraining on the smaller corpus would.
    """
    model, optimizer = _model(setup, recipe)
    params = [p for p in model.parameters() if p.requires_grad]
    total = setup.schedule.shape[0]
    for step in range(total):
        _set_lr(optimizer, step, total, recipe)
        every = [setup.rows[i] for i in setup.schedule[step]]
        kept = [row for row in every if row.doc_id != without]
        if not kept:
            continue
        batch = collate(kept, setup.pad)
        optimizer.zero_grad(set_to_none=True)
        counted = collate(every, setup.pad) if keep_normaliser else batch
        n_total = predicted_counts(counted["labels"]).sum()
        (row_loss_sums(model, batch).sum() / n_total).backward()
        if recipe.max_grad_norm is not None:
            norm = torch.nn.utils.get_total_norm([p.grad for p in params])
            torch.nn.utils.clip_grads_with_norm_(params, recipe.max_grad_norm, norm)
        optimizer.step()
    with torch.no_grad(), eval_mode(model):
        counts = predicted_counts(setup.target["labels"])
        return float((row_loss_sums(model, setup.target) / counts)[0])


def _set_lr(optimizer: torch.optim.Optimizer, step: int, total: int, recipe) -> float:
    lr = lr_at(step, total, recipe)
    for group in optimizer.param_groups:
        group["lr"] = lr
    return lr


def chosen_documents(values: np.ndarray, per_group: int, seed: int) -> dict[str, list[int]]:
    """Indices of the top, bottom and (from the rest) random documents by value."""
    order = np.argsort(-values, kind="stable")
    top, bottom = order[:per_group].tolist(), order[-per_group:].tolist()
    rest = order[per_group:-per_group]
    random = np.random.default_rng(seed).choice(rest, size=per_group, replace=False).tolist()
    return {"top": top, "bottom": bottom, "random": random}


def measure(config: LOOConfig, out: Path) -> dict:
    """Values, leave-one-out effects and correlations (see the module docstring)."""
    pin_threads(config.recipe.threads)
    setup = prepare(config, out)
    values, final = attributed_run(setup, config.recipe)
    baseline = plain_run(setup, config.recipe, without=None)
    groups = chosen_documents(values["default"], config.per_group, config.seed)
    picked = [i for g in groups.values() for i in g]
    effects = {"renormalised": [], "kept normaliser": []}
    for k, i in enumerate(picked):
        for key, keep in (("renormalised", False), ("kept normaliser", True)):
            loss = plain_run(setup, config.recipe, setup.doc_ids[i], keep_normaliser=keep)
            effects[key].append(loss - baseline)
        log(f"replay {k + 1}/{len(picked)}: without {setup.doc_ids[i]}")
    return {
        "values": {key: v[picked] for key, v in values.items()},
        "effects": {key: np.array(e) for key, e in effects.items()},
        "groups": groups,
        "picked": picked,
        "final_attributed": final,
        "final_plain": baseline,
        "steps": int(setup.schedule.shape[0]),
        "documents": len(setup.doc_ids),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="4 documents per group")
    parser.add_argument(
        "--sgd", type=float, metavar="LR", help="train with plain SGD at this lr instead of AdamW"
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    recipe = LOO_RECIPE
    if args.sgd:
        recipe = dataclasses.replace(LOO_RECIPE, optimizer="sgd", lr=args.sgd, weight_decay=0.0)
    config = LOOConfig(recipe=recipe, per_group=4 if args.quick else LOOConfig.per_group)
    started = time.perf_counter()
    result = measure(config, args.out)
    n = config.per_group
    print(
        f"leave-one-out on {result['documents']} documents, {result['steps']} "
        f"{config.recipe.optimizer} steps at lr {config.recipe.lr:g}; "
        f"target final loss {result['final_plain']:.5f} (attributed run "
        f"{result['final_attributed']:.5f})"
    )
    lines, means = [], []
    for removal, effects in result["effects"].items():
        for key, label in (("default", "engine default"), ("sgd", "SGD proxy")):
            v = result["values"][key]
            lines.append([removal, label, "all", pearson(v, effects), spearman(v, effects)])
            for g, name in enumerate(("top", "bottom", "random")):
                part = slice(g * n, (g + 1) * n)
                r_p, r_s = pearson(v[part], effects[part]), spearman(v[part], effects[part])
                lines.append([removal, label, name, r_p, r_s])
        for g, name in enumerate(("top", "bottom", "random")):
            part = slice(g * n, (g + 1) * n)
            means.append(
                [removal, name, result["values"]["default"][part].mean(), effects[part].mean()]
            )
    print(table(["removal", "values", "documents", "Pearson", "Spearman"], lines))
    print(table(["removal", "group", "mean value (default)", "mean LOO effect (nats)"], means))
    print(f"total {time.perf_counter() - started:.0f} s on {config.recipe.threads} threads")


if __name__ == "__main__":
    main()
