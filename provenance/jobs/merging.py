"""Replays that share work: queued attribute jobs of one run fold into one replay.

Every replay of a run repeats all its optimizer steps, and the targets' rows are a small part
of a step, so two uploads queued for the same run cost about one replay together, not two. The
worker that claims an attribute job folds into it the newer queued jobs of the same run
(`plan`), replays once with their targets together (`merged_targets`), and finishes them all
(db/jobs.py merge). A job queued while that replay runs waits and joins the next one.

The values of a target do not depend on which other targets share its replay (each target's
values come from its own rows; tests/provenance/test_merged_replays.py checks this to 1e-12).
No database access here: the worker and the UI hand these the typed jobs.
"""

from __future__ import annotations

from collections.abc import Sequence

from attribution_engine.targets import TargetText
from provenance.jobs.payloads import MAX_TARGETS, AttributeJob


def plan(first: AttributeJob, queued: Sequence[tuple[int, AttributeJob]]) -> list[int]:
    """The ids of the `queued` jobs (oldest first, same run as `first`) that fold into `first`'s
    replay: each in turn, unless a target id of it names another text than a target already
    taken (the replay needs distinct ids), or the replay would pass MAX_TARGETS targets. A job
    left out waits for the next replay."""
    taken = {t.id: t.text for t in first.targets}
    chosen = []
    for job_id, job in queued:
        if job.run_key != first.run_key:
            continue
        new = {t.id: t.text for t in job.targets if t.id not in taken}
        clash = any(taken.get(t.id, t.text) != t.text for t in job.targets)
        if clash or len(taken) + len(new) > MAX_TARGETS:
            continue
        taken.update(new)
        chosen.append(job_id)
    return chosen


def merged_targets(jobs: Sequence[AttributeJob]) -> tuple[TargetText, ...]:
    """The targets of `jobs` in job order, each (id, text) once."""
    seen: set[str] = set()
    targets = []
    for job in jobs:
        for target in job.targets:
            if target.id not in seen:
                seen.add(target.id)
                targets.append(target)
    return tuple(targets)


def merged_generated(jobs: Sequence[AttributeJob]) -> tuple[str, ...]:
    """The ids among `merged_targets(jobs)` that a model wrote: each target's origin is the
    one given by the job whose copy of it was kept (the first job naming the id)."""
    first_job: dict[str, AttributeJob] = {}
    for job in jobs:
        for target in job.targets:
            first_job.setdefault(target.id, job)
    return tuple(t.id for t in merged_targets(jobs) if t.id in first_job[t.id].generated)


def waiting_note(job_id: int, open_jobs: Sequence[tuple[int, str, AttributeJob]]) -> str | None:
    """What a queued attribute job waits for, in words, or None when it is not queued.

    `open_jobs`: (id, status, job) of the queued and running attribute jobs, oldest first. A
    queued job behind a running replay of its run joins the next replay with the targets of the
    other queued jobs of that run; a queued job with none running starts the next replay."""
    mine = next((job for i, status, job in open_jobs if i == job_id and status == "queued"), None)
    if mine is None:
        return None
    run = mine.run_key
    running = [i for i, status, job in open_jobs if status == "running" and job.run_key == run]
    others = merged_targets(
        [job for i, status, job in open_jobs if status == "queued" and job.run_key == run]
    )
    n_other = len([t for t in others if t.id not in {m.id for m in mine.targets}])
    company = f"with {n_other} other target(s)" if n_other else "on its own"
    if running:
        return (
            f"will join the next replay of run {run} {company}, after job {running[0]} "
            "(replaying now) finishes"
        )
    return f"starts the next replay of run {run} {company} when a worker takes it"
