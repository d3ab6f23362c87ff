"""Planted sources in three training regimes, every ranking and peer on the same runs (issue 15,
items 2 and 3).

The 24 cases of `planted_targets.py` (96 targets; five decoy cases) are attached to:

- scratch:   the tiny GPT-2 trained from scratch for one epoch on a SOTU sample holding the
             sources (as `provenance_planted`);
- finetune:  the tiny GPT-2 pretrained without attribution on a disjoint SOTU sample (its own
             tokenizer), then fine-tuned with attribution for one epoch, with a fresh AdamW, on
             a smaller sample holding the sources (the realistic setting);
- repeated:  the same pretrained model fine-tuned on the same sample for several epochs
             (repeated exposure, as memorised text).

Rankings of the documents trained on, per target: the product default (a reciprocal-rank
fusion of the specific value with BM25, documents with a positive specific value only), the
specific value (Adam-aware, first order, contrasted with the corpus reference: the product's
accounting), the raw value, the specific value per row visit, the specific value divided by the
document's Adam-preconditioned gradient norm at the final weights, and the TrackStar cosine
(`posthoc_scores`). Peers: BM25, MiniLM embeddings, TrackStar, and Bergson when it is
installed under .peers/bergson (`bergson_peer`). Each cell: mean rank of the source (rank-1
count); ties count against the source.

    .venv/bin/python -m benchmarks.planted_regimes
    .venv/bin/python -m benchmarks.planted_regimes --regimes finetune --finetune-documents 200
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from attribution_engine.chunking import chunk_documents, collate
from attribution_engine.fusion import contribution_scores
from attribution_engine.models import tiny_gpt2
from attribution_engine.objective import predicted_counts, row_loss_sums
from attribution_engine.tokenizer import train_bpe_tokenizer
from attribution_engine.train_config import TrainConfig
from attribution_engine.training import lr_at, make_optimizer, sample_schedule
from benchmarks import bergson_peer
from benchmarks.fidelity_common import (
    DEFAULT_OUT,
    log,
    pin_threads,
    sample_records,
    sotu_records,
    table,
    write_records,
)
from benchmarks.planted_targets import LEVELS, PLANTED, Planted
from benchmarks.posthoc_scores import posthoc_scores
from benchmarks.provenance_planted import (
    PLANTED_RECIPE,
    PlantedRun,
    attach,
    attributed_pass,
    contrasted,
    planted_ids,
    source_ranks,
)

Regime = Literal["scratch", "finetune", "repeated"]
REGIMES: tuple[Regime, ...] = ("scratch", "finetune", "repeated")
# The product's default ranking (`attribution_engine.fusion.contribution_scores`).
DEFAULT = "RRF(specific, BM25) (default)"


@dataclass(frozen=True)
class RegimeConfig:
    # One epoch over this many paragraphs in the scratch regime, as provenance_planted.
    scratch_documents: int = 800
    # The attributed fine-tune sample (sources and decoys included): ranks are among these.
    finetune_documents: int = 400
    # Pretraining (no attribution) on this many other paragraphs, this many epochs, at this lr:
    # measured to take the loss from 8.3 to about 5 in a few minutes on one thread.
    pretrain_documents: int = 4000
    pretrain_epochs: int = 2
    pretrain_lr: float = 1e-3
    # Fine-tuning: the demo's stable lr and the product's default warm-up (20 steps). With 5,
    # a fresh AdamW's first full-size step credited its batch for every target (fidelity.md).
    finetune_lr: float = 3e-4
    finetune_warmup: int = TrainConfig().warmup_steps
    repeat_epochs: int = 3
    recipe: TrainConfig = PLANTED_RECIPE
    planted: tuple[Planted, ...] = PLANTED
    levels: tuple[str, ...] = LEVELS
    regimes: tuple[Regime, ...] = REGIMES
    bergson: bool = True  # run the Bergson peer when it is installed
    seed: int = 0


@dataclass
class RegimeResult:
    regime: Regime
    run: PlantedRun
    rankings: dict[str, np.ndarray]  # ranking name -> source rank per target [n_targets]
    seconds: dict[str, float]  # ranking or phase name -> wall time
    notes: list[str]


def pretrain(records: list[dict], config: RegimeConfig):
    """Tokenizer and model trained on `records` without attribution; returns (tokenizer, model,
    seconds, first and last loss)."""
    recipe = config.recipe
    tokenizer = train_bpe_tokenizer((r["text"] for r in records), recipe.vocab_size)
    rows = chunk_documents([(r["id"], r["text"]) for r in records], tokenizer, recipe.context)
    plan = dataclasses.replace(recipe, lr=config.pretrain_lr, epochs=config.pretrain_epochs)
    total = plan.total_steps(len(rows))
    schedule = sample_schedule(len(rows), total, plan.rows_per_step, plan.seed + 1)
    model = tiny_gpt2(len(tokenizer), seed=plan.seed)
    optimizer = make_optimizer(model, plan)
    started, losses = time.perf_counter(), []
    for step in range(total):
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step, total, plan)
        batch = collate([rows[i] for i in schedule[step]], tokenizer.pad_token_id)
        loss = row_loss_sums(model, batch).sum() / predicted_counts(batch["labels"]).sum()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if plan.max_grad_norm is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), plan.max_grad_norm)
        optimizer.step()
        losses.append(float(loss.detach()))
        if step % 50 == 0 or step == total - 1:
            log(f"pretrain step {step + 1}/{total} loss {losses[-1]:.3f}")
    optimizer.zero_grad(set_to_none=True)
    return tokenizer, model, time.perf_counter() - started, (losses[0], np.mean(losses[-10:]))


def split_samples(config: RegimeConfig, out: Path) -> tuple[list[dict], list[dict], list[dict]]:
    """(scratch sample, fine-tune sample, pretraining sample); the last two are disjoint and
    both of the first two hold every source and decoy."""
    every = sotu_records(out)
    keep = planted_ids(config.planted)
    scratch = sample_records(every, config.scratch_documents, config.seed, keep=keep)
    finetune = sample_records(every, config.finetune_documents, config.seed, keep=keep)
    taken = {r["id"] for r in finetune}
    rest = [r for r in every if r["id"] not in taken and r["text"].strip()]
    pre = sample_records(rest, config.pretrain_documents, config.seed + 1)
    return scratch, finetune, pre


def attributed_run(regime, records, recipe, config, out, model=None, tokenizer=None):
    """One attributed pass over `records`, then the post-hoc scores at its final weights."""
    name = f"regime-{regime}-{len(records)}-{config.seed}.jsonl"
    path = write_records(records, out / name)
    data = attach(path, recipe, config.planted, config.levels, tokenizer=tokenizer)
    if model is None:
        model = tiny_gpt2(len(data.tokenizer), seed=recipe.seed)
    optimizer = make_optimizer(model, recipe)  # fresh AdamW state, as a fine-tune starts
    started = time.perf_counter()
    values, visits, final_loss = attributed_pass(model, optimizer, recipe, data, sgd=False)
    run = PlantedRun(
        doc_ids=[d.id for d in data.docs],
        doc_texts=[d.text for d in data.docs],
        target_names=data.names,
        corpus_references=data.references[0],
        n_file_references=0,
        values=values,
        seconds=time.perf_counter() - started,
        final_train_loss=final_loss,
        visits=visits,
    )
    n = len(data.names)
    posthoc = posthoc_scores(
        model, optimizer, data.docs, data.rows, data.targets, n, data.tokenizer.pad_token_id
    )
    return run, posthoc, model, data.tokenizer


def peer_scores(run: PlantedRun, planted) -> dict[str, tuple[np.ndarray, float]]:
    """BM25 and MiniLM cosine [D, V] over the run's documents, each with its wall time."""
    from attribution_engine.embeddings import encode
    from attribution_engine.evidence import bm25_scores

    texts = {(p.source_id, level): p.text(level) for p in planted for level in LEVELS}
    queries = [texts[name] for name in run.target_names]
    started = time.perf_counter()
    bm25 = np.stack([bm25_scores(q, run.doc_texts) for q in queries], axis=1)
    bm25_seconds = time.perf_counter() - started
    started = time.perf_counter()
    cosine = encode(run.doc_texts) @ encode(queries).T  # [D, V]; unit rows
    return {"BM25": (bm25, bm25_seconds), "MiniLM": (cosine, time.perf_counter() - started)}


def default_misses(run: PlantedRun, config: RegimeConfig, default: np.ndarray) -> list[str]:
    """Verbatim and paraphrase targets whose source the default ranking (scores `default`
    [D, V]) does not put first, each with the document it put first (marked when that is the
    case's decoy)."""
    ranks = source_ranks(run, default)
    decoy_of = {p.source_id: p.decoy_id for p in config.planted}
    lines = []
    for v, (source, level) in enumerate(run.target_names):
        if level in ("verbatim", "paraphrase") and ranks[v] > 1:
            first = run.doc_ids[int(np.argmax(default[:, v]))]
            mark = " (its decoy)" if first == decoy_of[source] else ""
            lines.append(f"{source} {level}: rank {int(ranks[v])}, first {first}{mark}")
    return lines


def ranking_scores(run: PlantedRun, posthoc, peers) -> dict[str, np.ndarray]:
    """Scores [D, V] of every ranking candidate and peer; higher = ranked first."""
    values = run.values["adam-1"]
    specific = contrasted(run, values, "corpus-ref")  # [D, V], the product's accounting
    scores = {
        DEFAULT: contribution_scores(specific, peers["BM25"][0]),
        "specific value": specific,
        "raw value": contrasted(run, values, "raw"),
        "specific / visits": specific / run.visits[:, None],
        "specific / grad norm": specific / posthoc.norms[:, None],
        "TrackStar (ours)": posthoc.trackstar,
    }
    scores.update({name: s for name, (s, _) in peers.items()})
    return scores


def score_regime(regime, run, posthoc, model, tokenizer, config, out, phase_seconds):
    peers = peer_scores(run, config.planted)
    scores = ranking_scores(run, posthoc, peers)
    rankings = {name: source_ranks(run, s) for name, s in scores.items()}
    # Wall time of each ranking: the attributed pass (training with the engine attached) for
    # the value-based ones, plus what each adds; the peers' own times.
    seconds = dict(phase_seconds)
    seconds["attributed training"] = run.seconds
    for name in ("specific value", "raw value", "specific / visits"):
        seconds[name] = run.seconds
    seconds["specific / grad norm"] = run.seconds + posthoc.seconds
    seconds[DEFAULT] = run.seconds + peers["BM25"][1]
    seconds["TrackStar (ours)"] = posthoc.seconds
    seconds.update({name: s for name, (_, s) in peers.items()})
    notes = [f"default missed {miss}" for miss in default_misses(run, config, scores[DEFAULT])]
    if config.bergson:
        outcome = bergson_peer.scores(model, tokenizer, run, config.planted, out / "bergson")
        if outcome.scores is None:
            notes.append(f"Bergson skipped: {outcome.reason}")
        else:
            rankings["Bergson TrackStar"] = source_ranks(run, outcome.scores)
            seconds["Bergson TrackStar"] = outcome.seconds
    return RegimeResult(regime, run, rankings, seconds, notes)


def run_regimes(config: RegimeConfig, out: Path) -> list[RegimeResult]:
    pin_threads(config.recipe.threads)
    scratch_records, finetune_records, pre_records = split_samples(config, out)
    results = []
    if "scratch" in config.regimes:
        run, posthoc, model, tokenizer = attributed_run(
            "scratch", scratch_records, config.recipe, config, out
        )
        results.append(score_regime("scratch", run, posthoc, model, tokenizer, config, out, {}))
    if not {"finetune", "repeated"} & set(config.regimes):
        return results
    tokenizer, pretrained, seconds, (first, last) = pretrain(pre_records, config)
    log(f"pretrained on {len(pre_records)} paragraphs: loss {first:.2f} -> {last:.2f}")
    tune = dataclasses.replace(
        config.recipe, lr=config.finetune_lr, warmup_steps=config.finetune_warmup
    )
    for regime, epochs in (("finetune", 1), ("repeated", config.repeat_epochs)):
        if regime not in config.regimes:
            continue
        recipe = dataclasses.replace(tune, epochs=epochs)
        model = copy.deepcopy(pretrained)
        run, posthoc, model, _ = attributed_run(
            regime, finetune_records, recipe, config, out, model=model, tokenizer=tokenizer
        )
        phases = {"pretraining (shared)": seconds}
        result = score_regime(regime, run, posthoc, model, tokenizer, config, out, phases)
        result.notes.append(f"pretraining loss {first:.2f} -> {last:.2f} (last 10 steps)")
        results.append(result)
    return results


def regime_table(result: RegimeResult, config: RegimeConfig) -> str:
    """Mean source rank (rank-1 count) per level, then the decoy cases' verbatim and
    paraphrase targets, and the ranking's wall time."""
    names = result.run.target_names
    level_of = np.array([level for _, level in names])
    decoys = {p.source_id for p in config.planted if p.decoy_id}
    is_decoy = np.array([source in decoys for source, _ in names])
    columns = [(level, level_of == level) for level in config.levels]
    for level in ("verbatim", "paraphrase"):
        if level in config.levels and is_decoy.any():
            columns.append((f"{level}, decoys", (level_of == level) & is_decoy))
    lines = []
    for name, ranks in result.rankings.items():
        cells = [name]
        for _, mask in columns:
            r = ranks[mask]
            cells.append(f"{r.mean():.1f} ({(r == 1).sum()}/{len(r)})")
        seconds = result.seconds.get(name)
        cells.append(f"{seconds:.0f}" if seconds is not None else "")
        lines.append(cells)
    headers = ["ranking (mean rank, rank-1 count)", *(c for c, _ in columns), "seconds"]
    return table(headers, lines)


def report(results: list[RegimeResult], config: RegimeConfig) -> str:
    parts = []
    for result in results:
        run = result.run
        phases = ", ".join(
            f"{k} {v:.0f} s"
            for k, v in result.seconds.items()
            if k in ("pretraining (shared)", "attributed training")
        )
        parts.append(
            f"\n{result.regime}: {len(run.doc_ids)} documents trained on, "
            f"{int(run.visits.max())} visits at most, {len(run.target_names)} targets, "
            f"final train loss {run.final_train_loss:.3f}; {phases}"
        )
        parts.extend(f"  {note}" for note in result.notes)
        parts.append(regime_table(result, config))
    return "\n".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    defaults = RegimeConfig()
    parser.add_argument("--regimes", nargs="+", choices=REGIMES, default=list(REGIMES))
    parser.add_argument("--scratch-documents", type=int, default=defaults.scratch_documents)
    parser.add_argument("--finetune-documents", type=int, default=defaults.finetune_documents)
    parser.add_argument("--pretrain-documents", type=int, default=defaults.pretrain_documents)
    parser.add_argument("--pretrain-epochs", type=int, default=defaults.pretrain_epochs)
    parser.add_argument("--repeat-epochs", type=int, default=defaults.repeat_epochs)
    parser.add_argument("--finetune-warmup", type=int, default=defaults.finetune_warmup)
    parser.add_argument("--no-bergson", action="store_true")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    config = dataclasses.replace(
        defaults,
        regimes=tuple(args.regimes),
        scratch_documents=args.scratch_documents,
        finetune_documents=args.finetune_documents,
        pretrain_documents=args.pretrain_documents,
        pretrain_epochs=args.pretrain_epochs,
        repeat_epochs=args.repeat_epochs,
        finetune_warmup=args.finetune_warmup,
        bergson=not args.no_bergson,
    )
    started = time.perf_counter()
    results = run_regimes(config, args.out)
    print(report(results, config))
    print(f"\ntotal {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
