"""Targets added in the UI but not yet attributed, kept as files in `<data_dir>/uploads/`.

A target belongs to a run in the ledger only once an attribution replay has attached it, so
uploads and generations wait as content-named JSONL files (provenance/uploads.save_targets).
Their status is read back from the ledger and the job queue: attributed (a run has values for a
target with this id and text), queued/running (an attribute job carries it), or not attributed.
No Streamlit calls: the Targets page renders what these return.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from attribution_engine.targets import TargetText, load_targets
from provenance.jobs.payloads import AttributeJob, PayloadError

PENDING_COLUMNS = ["id", "text", "prompt", "status", "file"]


def uploads_dir(data_dir: Path) -> Path:
    return Path(data_dir) / "uploads"


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
    """The pending targets with their status (columns PENDING_COLUMNS).

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
        rows.append((target.id, target.text, target.prompt, status, path.name))
    return pd.DataFrame(rows, columns=PENDING_COLUMNS)


def replay_estimate(data_dir: Path, run_key: str, n_targets: int) -> str:
    """Plain-words cost of replaying `run_key` with `n_targets` new targets attached.

    A replay repeats every optimizer step of the original run with the targets' rows added,
    so it takes about as long as the original run (target rows are a small part of a step).
    """
    from provenance.runs import RunError, read_summary  # imports torch: only here

    try:
        summary = read_summary(Path(data_dir), run_key)
    except (RunError, OSError, json.JSONDecodeError):
        return (
            f"Unknown: run {run_key} has no finished run files under {data_dir}/runs, so the "
            "worker cannot replay it from this data directory."
        )
    seconds, steps = float(summary.get("seconds", 0.0)), int(summary.get("steps", 0))
    return (
        f"About {_duration(seconds)} on the worker: the replay repeats all {steps} steps of "
        f"{run_key} (which took {_duration(seconds)}) with {n_targets} target(s) attached, "
        "and checks that it reproduces the same model."
    )


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
