"""Runs on disk: train a model with attribution, resume it, and replay it with new targets.
A run is a directory under `out` (its values go to the ledger at every checkpoint):

    runs/RUN_ID/recipe.json      the typed Recipe (provenance/recipe.py): config, hashes,
                                 corpus, model, targets, reference, accounting, total steps
    runs/RUN_ID/rows.json        the document id of every training row (DESIGN 2.5)
    runs/RUN_ID/schedule.npy     int64 [S, R]: the rows of every step, the exact sample order
    runs/RUN_ID/tokenizer/       the tokenizer;  initial.pt: the initial weights
    runs/RUN_ID/checkpoints/     atomic checkpoints (resume);  model/: the final model
    runs/RUN_ID/results.npz      per-visit values and the efficiency series (training.LoopResult)
    runs/RUN_ID/summary.json     final weights hash, efficiency totals, replay verification
"""

import dataclasses
import json
import secrets
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import torch
from sqlalchemy.orm import sessionmaker

from attribution_engine.chunking import Row, chunk_documents, encode_targets
from attribution_engine.corpus import Corpus, load_corpus
from attribution_engine.generate import context_length
from attribution_engine.models import load_local_model, tiny_gpt2, weights_sha256
from attribution_engine.targets import TargetText, load_targets
from attribution_engine.tokenizer import (
    load_tokenizer,
    save_tokenizer,
    tokenizer_sha256,
    train_bpe_tokenizer,
)
from attribution_engine.train_config import TINY_MODEL, TrainConfig
from attribution_engine.training import (
    LoopResult,
    estimate_cost,
    make_optimizer,
    run_loop,
    sample_schedule,
)
from db.catalog import mark_interrupted
from db.session import session_scope
from provenance.ledger_writer import LedgerWriter
from provenance.recipe import CorpusRecord, Parent, Recipe, Reference, TargetFlag
from provenance.reference import (
    check_against_targets,
    choose_reference,
    clip_reference,
    unreachable_targets,
)


class RunError(ValueError):
    """A run cannot be started, resumed or replayed as asked; the message says why."""


def run_dir(out: Path, run_id: str) -> Path:
    path = Path(out) / "runs" / run_id
    if not (path / "recipe.json").is_file():
        raise RunError(f"no run {run_id!r} under {out}/runs; list them with `ls {out}/runs`")
    return path


def train(
    corpus_path: Path,
    out: Path,
    config: TrainConfig,
    *,
    model_spec: str = TINY_MODEL,
    targets_path: Path | None = None,
    lenient: bool = False,
    progress: bool = True,
    ledger: sessionmaker | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    runner: Callable[[Path], object] | None = None,
    reference_file: Path | None = None,
    hold_out: Sequence[str] = (),
    run_id: str | None = None,
) -> str:
    """Prepare and run a new attributed training run; returns its id. `runner(path)`, when
    given, runs the prepared run instead of `execute` (e.g. torchrun.launch).

    The run trains on every document of the corpus except those listed in `hold_out` (with
    config.reference "held_out"); `reference_file` holds the reference texts of "file"
    (provenance/reference.py). `run_id` names the run (default: a new timestamped id); a
    worker passes one derived from its job, so a job taken over after a crash finds its run."""
    corpus = load_corpus(corpus_path, lenient=lenient)
    reference = choose_reference(corpus, config, reference_file=reference_file, hold_out=hold_out)
    excluded = set(reference.excluded)
    documents = [d for d in corpus.documents if d.id not in excluded]
    if model_spec == TINY_MODEL:
        tokenizer = train_bpe_tokenizer((d.text for d in documents), config.vocab_size)
        model = tiny_gpt2(len(tokenizer), seed=config.seed)
    else:
        model, tokenizer = load_local_model(Path(model_spec))
        model.train()
    limit = context_length(model)
    if limit is not None and limit < config.context:  # rows must fit the model's positions
        config = dataclasses.replace(config, context=limit)
    targets = load_targets(targets_path) if targets_path else []
    check_against_targets(reference, targets)
    flags = _warn(unreachable_targets(targets, reference))
    reference = clip_reference(reference, tokenizer, config.context)
    if config.reference == "other_targets" and len(targets) < 2:
        raise RunError(
            "--reference other_targets contrasts each target with the others, so it needs at "
            f"least two targets (got {len(targets)}); add targets or use --reference corpus"
        )
    _target_batch(targets, reference, tokenizer, config)  # bad targets fail before disk
    run_id = run_id or f"run-{datetime.now(UTC):%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"
    path = Path(out) / "runs" / run_id
    path.mkdir(parents=True)
    save_tokenizer(tokenizer, path / "tokenizer")
    torch.save(model.state_dict(), path / "initial.pt")
    rows = chunk_documents([(d.id, d.text) for d in documents], tokenizer, config.context)
    schedule = sample_schedule(
        len(rows), config.total_steps(len(rows)), config.rows_per_step, config.seed
    )
    np.save(path / "schedule.npy", schedule)
    _write_json(path / "rows.json", [row.doc_id for row in rows])
    Recipe(
        run_id=run_id,
        kind="train",
        created=datetime.now(UTC).isoformat(),
        config=config,
        model=model_spec,
        corpus=CorpusRecord(
            path=str(Path(corpus_path).resolve()),
            sha256=corpus.sha256,
            documents=len(corpus.documents),
            duplicate_groups=tuple(tuple(g) for g in corpus.duplicate_groups),
            lenient=lenient,
            skipped=tuple(corpus.skipped),
        ),
        tokenizer_sha256=tokenizer_sha256(tokenizer),
        initial_weights_sha256=weights_sha256(model),
        reference=reference,
        targets=tuple(targets),
        accounting=config.resolved_accounting().value,
        total_steps=int(schedule.shape[0]),
        flags=flags,
    ).save(path)
    if runner is not None:
        runner(path)
        return run_id
    execute(path, progress=progress, ledger=ledger, on_progress=on_progress)
    return run_id


@dataclass(frozen=True)
class LoadedRun:
    """A prepared run rebuilt from its directory, every part checked against the recipe."""

    recipe: Recipe
    model: torch.nn.Module  # at the run's initial weights
    tokenizer: object
    corpus: Corpus
    rows: list[Row]  # the training rows, in rows.json's order
    targets: dict[str, torch.Tensor]  # the encoded target and reference batch
    schedule: np.ndarray  # int64 [S, R]: the rows of every step


def load_run(path: Path) -> LoadedRun:
    """Rebuild the run at `path` (sets torch's thread count to the recipe's); RunError when a
    file does not match its hash or the corpus changed."""
    recipe = Recipe.load(path)
    torch.set_num_threads(recipe.config.threads)
    model, tokenizer = _rebuild(path, recipe)
    corpus, rows = _rows(path, recipe, tokenizer)
    batch = _target_batch(recipe.targets, recipe.reference, tokenizer, recipe.config)
    schedule = np.load(path / "schedule.npy")
    return LoadedRun(recipe, model, tokenizer, corpus, rows, batch, schedule)


def execute(
    path: Path,
    progress: bool = True,
    ledger: sessionmaker | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    loop: Callable[..., LoopResult] = run_loop,
) -> LoopResult:
    """Run (or resume) the training loop of the run at `path` and write its results. With a
    ledger, progress is committed there at every checkpoint; `on_progress(done, total)` is
    called after every optimizer step and each checkpoint (a worker's live progress; it
    throttles its own writes). `loop` is run_loop, or rank 0's distributed one
    (provenance.torchrun).

    Ctrl-C during training marks the run interrupted in the ledger at once (shown so, at its
    last committed step, never as running) and re-raises; running this again resumes it.
    summary.json records the measured throughput: `steps_run` optimizer steps in
    `loop_seconds` with `target_rows` target rows (the user's targets plus reference texts)."""
    run = load_run(path)
    recipe, config, model, tokenizer = run.recipe, run.recipe.config, run.model, run.tokenizer
    rows, batch, schedule = run.rows, run.targets, run.schedule
    writer = None
    if ledger is not None:
        writer = LedgerWriter(ledger, recipe, [row.doc_id for row in rows])
        writer.register(run.corpus)
    optimizer = make_optimizer(model, config)
    if progress:
        estimate = estimate_cost(
            model, rows, tokenizer.pad_token_id, batch, config, int(schedule.shape[0])
        )
        print(
            f"{recipe.run_id}: {len(rows)} rows, {schedule.shape[0]} steps; {estimate}",
            file=sys.stderr,
        )
    total = int(schedule.shape[0])
    stepped: list[int] = []  # the steps this call ran (a resumed run starts past 0)

    def checkpointed(done: int, partial: LoopResult) -> None:
        if writer is not None:
            writer.commit(done, partial)
        if on_progress is not None:
            on_progress(done, total)

    def step_done(done: int) -> None:
        stepped.append(done)
        if on_progress is not None:
            on_progress(done, total)

    started = time.perf_counter()
    try:
        result = loop(
            model,
            optimizer,
            rows,
            tokenizer.pad_token_id,
            batch,
            config,
            schedule,
            path / "checkpoints",
            progress=progress,
            on_checkpoint=checkpointed,
            on_step=step_done,
        )
    except KeyboardInterrupt:
        if ledger is not None:
            with session_scope(ledger) as session:
                mark_interrupted(session, recipe.run_id, datetime.now(UTC))
        print(
            f"\n{recipe.run_id} interrupted: the ledger holds it up to its last checkpoint, "
            "marked interrupted; run the same command again to resume it",
            file=sys.stderr,
        )
        raise
    loop_seconds = time.perf_counter() - started
    np.savez(path / "results.npz", **asdict(result))
    model.save_pretrained(path / "model")
    tokenizer.save_pretrained(path / "model")
    final_hash = weights_sha256(model)
    if writer is not None:
        writer.commit(int(schedule.shape[0]), result, final_hash)
    summary = {
        "final_weights_sha256": final_hash,
        "seconds": round(time.perf_counter() - started, 3),
        "steps": int(schedule.shape[0]),
        "steps_run": len(stepped),
        "loop_seconds": round(loop_seconds, 3),
        "target_rows": int(batch["input_ids"].shape[0]),
        "values_sum": result.values_sum.sum(axis=0).tolist(),
        "predicted_drop": result.predicted_drop.sum(axis=0).tolist(),
        "realised_drop": result.realised_drop.sum(axis=0).tolist(),
    }
    if recipe.parent is not None:
        parent = Path(recipe.parent.path)
        original = json.loads((parent / "summary.json").read_text())
        summary["verified_same_model"] = (
            summary["final_weights_sha256"] == original["final_weights_sha256"]
        )
        summary["weight_distance"] = _weight_distance(model, parent / "model")
    _write_json(path / "summary.json", summary)
    if progress and stepped:
        print(
            f"{recipe.run_id}: {len(stepped)} steps with {summary['target_rows']} target rows in "
            f"{loop_seconds:.1f} s: {len(stepped) / loop_seconds:.2f} steps/s (measured)",
            file=sys.stderr,
        )
    return result


def attribute(
    parent_id: str,
    targets: Sequence[TargetText],
    out: Path,
    progress: bool = True,
    ledger: sessionmaker | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    run_id: str | None = None,
    generated: Sequence[str] = (),
) -> str:
    """Replay a finished run with `targets` attached (all in one pass); returns the new id
    (`run_id`, default PARENT-attr-<random hex>).

    The targets come with the call (a job's payload, or a file the CLI read), not as a path.
    `generated`: the ids of targets a model wrote (recorded with origin "generated"); the
    others are the user's text (origin "uploaded").
    """
    parent = run_dir(out, parent_id)
    if not (parent / "summary.json").is_file():
        raise RunError(
            f"run {parent_id} has not finished; resume it with `provenance train "
            f"--resume {parent_id}` first"
        )
    recipe = Recipe.load(parent)
    targets = list(targets)
    if not targets:
        raise RunError(f"no targets to attach to a replay of {parent_id}; give at least one")
    tokenizer = load_tokenizer(parent / "tokenizer")
    check_against_targets(recipe.reference, targets)
    _target_batch(targets, recipe.reference, tokenizer, recipe.config)  # fail before writing
    flags = _warn(unreachable_targets(targets, recipe.reference))
    run_id = run_id or f"{parent_id}-attr-{secrets.token_hex(3)}"
    path = Path(out) / "runs" / run_id
    path.mkdir(parents=True)
    for name in ("initial.pt", "schedule.npy", "rows.json"):
        (path / name).write_bytes((parent / name).read_bytes())
    save_tokenizer(tokenizer, path / "tokenizer")
    recipe.replay(
        run_id,
        datetime.now(UTC).isoformat(),
        tuple(targets),
        Parent(run_id=parent_id, path=str(parent.resolve())),
        flags,
        tuple(generated),
    ).save(path)
    execute(path, progress=progress, ledger=ledger, on_progress=on_progress)
    return run_id


def read_summary(out: Path, run_id: str) -> dict:
    """summary.json of a finished run."""
    return json.loads((run_dir(out, run_id) / "summary.json").read_text())


def _rebuild(path: Path, recipe: Recipe):
    """Model and tokenizer at the run's initial weights, each checked against its hash."""
    tokenizer = load_tokenizer(path / "tokenizer")
    if tokenizer_sha256(tokenizer) != recipe.tokenizer_sha256:
        raise RunError(f"{path}/tokenizer does not match the hash in recipe.json")
    if recipe.from_scratch:
        model = tiny_gpt2(len(tokenizer), seed=recipe.config.seed)
    else:
        model, _ = load_local_model(Path(recipe.model))
        model.train()
    # weights_only: a run folder's files are data, never code (a planted pickle is refused).
    model.load_state_dict(torch.load(path / "initial.pt", map_location="cpu", weights_only=True))
    if weights_sha256(model) != recipe.initial_weights_sha256:
        raise RunError(f"{path}/initial.pt does not match the hash in recipe.json")
    return model, tokenizer


def _rows(path: Path, recipe: Recipe, tokenizer):
    """The corpus and the training rows, re-chunked and checked against rows.json."""
    corpus = load_corpus(recipe.corpus.path, lenient=recipe.corpus.lenient)
    if corpus.sha256 != recipe.corpus.sha256:
        raise RunError(
            f"the corpus at {recipe.corpus.path} changed since the run (SHA-256 "
            f"{corpus.sha256[:12]}... != {recipe.corpus.sha256[:12]}...)"
        )
    excluded = set(recipe.reference.excluded)
    documents = [(d.id, d.text) for d in corpus.documents if d.id not in excluded]
    rows = chunk_documents(documents, tokenizer, recipe.config.context)
    if [row.doc_id for row in rows] != json.loads((path / "rows.json").read_text()):
        raise RunError("re-chunking the corpus gave other rows than the run recorded")
    return corpus, rows


def _target_batch(
    targets: Sequence[TargetText], reference: Reference, tokenizer, config: TrainConfig
):
    texts = [t.text for t in targets] + list(reference.texts)
    prompts = [t.prompt for t in targets] + [None] * len(reference.texts)
    if not texts:
        raise RunError("nothing to attribute to: give --targets, or a reference (--reference)")
    return encode_targets(texts, prompts, tokenizer, config.context)


def _warn(flags: tuple[TargetFlag, ...]) -> tuple[TargetFlag, ...]:
    """Say on stderr which targets cannot be traced to their source; return the flags."""
    for flag in flags:
        print(f"warning: target {flag.target_id} {flag.reason}", file=sys.stderr)
    return flags


def _weight_distance(model, other_dir: Path) -> float:
    """Max absolute difference between the replayed and the original final weights."""
    from safetensors.torch import load_file

    other = load_file(str(other_dir / "model.safetensors"))
    state = model.state_dict()
    return max(float((state[k] - v).abs().max()) for k, v in other.items() if k in state)


def _write_json(path: Path, payload) -> None:
    path.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n")
