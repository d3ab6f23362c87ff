"""Targets added in the UI but not yet attributed, kept as files in `<data_dir>/uploads/`.

A target belongs to a run in the ledger only once an attribution replay has attached it, so
uploads and generations wait as content-named JSONL files (provenance/uploads.save_targets).
Their status is read back from the ledger and the job queue: attributed (a run has values for a
target with this id and text), queued/running (an attribute job carries it), or not attributed.
No Streamlit calls: the Targets page renders what these return.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from attribution_engine.targets import TargetText, load_targets
from provenance.jobs import merging
from provenance.jobs.payloads import AttributeJob, PayloadError
from provenance.uploads import GENERATED_PREFIX

PENDING_COLUMNS = ["id", "origin", "text", "prompt", "status", "file"]


def uploads_dir(data_dir: Path) -> Path:
    return Path(data_dir) / "uploads"


def is_generated(path: Path | str) -> bool:
    """Whether a file of the uploads folder holds targets a model wrote (origin "generated")
    rather than the user's text ("uploaded"); `uploads.save_targets` names it so."""
    return Path(path).name.startswith(GENERATED_PREFIX)


def generated_ids(pending: list[tuple[TargetText, Path]], chosen: set[str]) -> tuple[str, ...]:
    """The ids among `chosen` whose waiting file holds model output: an attribute job's
    `generated` field, so the replay records them with origin "generated"."""
    return tuple(t.id for t, path in pending if t.id in chosen and is_generated(path))


def load_pending(data_dir: Path) -> list[tuple[TargetText, Path]]:
    """Every target in the uploads folder, oldest file first, each (id, text) once."""
    files = sorted(uploads_dir(data_dir).glob("*.jsonl"), key=lambda p: (p.stat().st_mtime, p))
    seen: set[tuple[str, str]] = set()
    found = []
    for path in files:
        try:
            targets = load_targets(path)
        except (OSError, ValueError):
            continue  # only this UI writes here; a file it cannot read is not a target list
        for target in targets:
            if (target.id, target.text) not in seen:
                seen.add((target.id, target.text))
                found.append((target, path))
    return found


def targets_file(data_dir: Path, name: str) -> list[TargetText]:
    """The targets of one file of the uploads folder, by its name as `load_pending` lists it;
    CorpusError (a ValueError) if it is gone or unreadable."""
    return load_targets(uploads_dir(data_dir) / Path(name).name)  # a name, never a path


def pending_table(
    pending: list[tuple[TargetText, Path]], ledger_targets: pd.DataFrame, jobs: pd.DataFrame
) -> pd.DataFrame:
    """The pending targets with their status (columns PENDING_COLUMNS; origin "generated" for
    a model's output sampled on the Targets page, "uploaded" for the user's text).

    ledger_targets: `db.listings.list_targets` of all runs; jobs: `db.jobs.open_jobs`
    of kind "attribute" (id, status, run_key, targets: the payload's target records).
    """
    attributed: dict[tuple[str, str], str] = {}
    for run_key, key, text, done in zip(
        ledger_targets["run_key"],
        ledger_targets["target_key"],
        ledger_targets["text"],
        ledger_targets["attributed"],
        strict=True,
    ):
        if done:
            attributed.setdefault((key, text), run_key)
    queued_targets: dict[tuple[str, str], str] = {}  # (id, text) -> "queued (job N)"
    for job_id, status, run_key, records in zip(
        jobs["id"], jobs["status"], jobs["run_key"], jobs["targets"], strict=True
    ):
        try:
            job = AttributeJob.from_json({"run_key": run_key, "targets": records})
        except PayloadError:
            continue  # the worker fails such a job with the reason; it attributes nothing
        for target in job.targets:
            queued_targets.setdefault((target.id, target.text), f"{status} (job {job_id})")
    rows = []
    for target, path in pending:
        key = (target.id, target.text)
        if key in attributed:
            status = f"attributed (run {attributed[key]})"
        elif key in queued_targets:
            status = queued_targets[key]
        else:
            status = "not attributed"
        origin = "generated" if is_generated(path) else "uploaded"
        rows.append((target.id, origin, target.text, target.prompt, status, path.name))
    return pd.DataFrame(rows, columns=PENDING_COLUMNS)


def queue_notes(jobs: pd.DataFrame) -> dict[int, str]:
    """What each queued attribute job waits for, in words (merging.waiting_note), by job id.

    jobs: `db.jobs.open_jobs` of kind "attribute" (id, status, run_key, targets)."""
    readable = _readable(jobs)
    notes = {}
    for job_id, _, _ in readable:
        note = merging.waiting_note(job_id, readable)
        if note is not None:
            notes[job_id] = note
    return notes


def queue_preview(jobs: pd.DataFrame, job: AttributeJob) -> str:
    """What `job` would wait for if queued now, in words (queue_notes)."""
    unqueued = -1  # an id no job has
    note = merging.waiting_note(unqueued, [*_readable(jobs), (unqueued, "queued", job)])
    return f"Once queued, it {note}."


def _readable(jobs: pd.DataFrame) -> list[tuple[int, str, AttributeJob]]:
    readable = []
    for job_id, status, run_key, records in zip(
        jobs["id"], jobs["status"], jobs["run_key"], jobs["targets"], strict=True
    ):
        try:
            job = AttributeJob.from_json({"run_key": run_key, "targets": records})
        except PayloadError:
            continue  # the worker fails such a job with the reason
        readable.append((int(job_id), status, job))
    return readable


@dataclass(frozen=True)
class Throughput:
    """A replay speed measured on the worker: `steps` optimizer steps in `seconds` (the training
    loop only) with `target_rows` target rows (the targets plus the reference texts)."""

    run_id: str  # the run that was measured: the original run or one of its replays
    steps: int
    seconds: float
    target_rows: int | None  # None: a summary written before it was recorded

    @property
    def steps_per_second(self) -> float:
        return self.steps / self.seconds


def measured_throughputs(data_dir: Path, run_key: str) -> list[Throughput]:
    """The speeds measured on `run_key` and on its replays (runs/<run_key>-attr-*), newest
    first: each finished run's summary.json. The newest tells best how fast the worker replays
    this run now (its machine's load included)."""
    runs_dir = Path(data_dir) / "runs"
    found = []
    for path in [runs_dir / run_key, *runs_dir.glob(f"{run_key}-attr-*")]:
        try:
            summary = json.loads((path / "summary.json").read_text())
        except (OSError, json.JSONDecodeError):
            continue  # unfinished, or not this software's
        steps = int(summary.get("steps_run", summary.get("steps", 0)))
        seconds = float(summary.get("loop_seconds", summary.get("seconds", 0.0)))
        if steps > 0 and seconds > 0:
            rows = summary.get("target_rows")
            stamp = (path / "summary.json").stat().st_mtime
            found.append((stamp, Throughput(path.name, steps, seconds, rows)))
    return [t for _, t in sorted(found, key=lambda pair: pair[0], reverse=True)]


def scaled_seconds_per_step(measured: Throughput, train_rows: int, target_rows: int) -> float:
    """Seconds per step with `target_rows` target rows, from a measurement with another count.

    A step runs the forward and backward pass of its `train_rows` training rows and of every
    target row (its gradient enters each document's value), and the per-row work dominates a
    step, so its time grows as (train_rows + target rows). Unknown counts: unscaled."""
    per_step = measured.seconds / measured.steps
    if measured.target_rows is None:
        return per_step
    return per_step * (train_rows + target_rows) / (train_rows + measured.target_rows)


def replay_estimate(data_dir: Path, run_key: str, n_targets: int) -> str:
    """Plain-words cost of replaying `run_key` with `n_targets` new targets attached.

    A replay repeats every optimizer step of the original run with the targets' rows added. The
    estimate is calibrated from measured throughput: the newest speed measured on this run or
    one of its replays (provenance/runs.py records it in summary.json), scaled to this many
    target rows (`scaled_seconds_per_step`), times the run's steps.
    """
    from provenance.recipe import Recipe, RecipeError  # torch-free

    runs_dir = Path(data_dir) / "runs"
    measured = measured_throughputs(data_dir, run_key)
    try:
        summary = json.loads((runs_dir / run_key / "summary.json").read_text())
    except (OSError, json.JSONDecodeError):
        summary = None
    if summary is None or not measured:
        return (
            f"Unknown: run {run_key} has no finished run files under {data_dir}/runs, so the "
            "worker cannot replay it from this data directory."
        )
    steps, newest = int(summary.get("steps", 0)), measured[0]
    try:
        recipe = Recipe.load(runs_dir / run_key)
    except (RecipeError, ValueError, OSError):
        recipe = None
    per_step, rows_said = newest.seconds / newest.steps, ""
    if recipe is not None and newest.target_rows is not None:
        rows = n_targets + len(recipe.reference.texts)
        per_step = scaled_seconds_per_step(newest, recipe.config.rows_per_step, rows)
        rows_said = (
            f" with {newest.target_rows} target rows, scaled to {rows} (with the reference texts)"
        )
    seconds = per_step * steps
    source = "the original run" if newest.run_id == run_key else f"replay {newest.run_id}"
    return (
        f"About {duration(seconds)} on the worker (training loop; loading adds a little): the "
        f"replay repeats all {steps} steps of {run_key} with {n_targets} target(s) attached, "
        f"at {1 / per_step:.2f} steps/s: the speed measured on {source}, "
        f"{newest.steps_per_second:.2f} steps/s{rows_said}. It checks that it reproduces "
        "the same model."
    )


def duration(seconds: float) -> str:
    """A duration in words: seconds, minutes or hours."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
