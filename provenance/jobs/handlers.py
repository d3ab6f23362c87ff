"""What `provenance worker` does with each kind of job from the ledger's queue.

Each handler receives its kind's typed payload (provenance/jobs/payloads.py), already checked
by the worker, and resolves every name in it against the worker's own folders (roots.py)
before it opens anything: a payload written by any client reads nothing outside them.

A job's run is named after the job (its creation time and id), so a worker that takes over the
job of a worker that died finds the run and resumes it from its last checkpoint (the ledger
commits are absolute values, so the resumed run ends bit-identical to an uninterrupted one,
docs/reliability.md 1), instead of starting a second run.

An attribute job folds the newer queued attribute jobs of its run into its replay (merging.py);
a resumed replay keeps the jobs its first attempt took, whose targets its recipe holds.

Progress is reported at every optimizer step, at most once per PROGRESS_EVERY_S seconds (a
write each), with the speed measured since this attempt's first step and the time left at it.
"""

import shutil
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from db.jobs import JobInfo
from provenance import runs
from provenance.jobs import merging, naming
from provenance.jobs.payloads import AttributeJob, JobKind, PayloadError, TrainJob
from provenance.jobs.roots import Roots
from provenance.worker import Handler, Report

PROGRESS_EVERY_S = 1.0  # progress writes: live enough to watch, cheap beside a step


class StepProgress:
    """`on_progress(done, total)` for runs.execute: reports to `report` at most once per
    `every` seconds (the last step always), with the steps per second measured since the first
    call of this attempt (a resumed run starts past step 0) and the seconds left at that speed.
    """

    def __init__(
        self,
        report: Callable[..., None],
        every: float = PROGRESS_EVERY_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._report, self._every, self._clock = report, every, clock
        self._first: tuple[float, int] | None = None  # (time, step) of the first call
        self._last = -float("inf")

    def __call__(self, done: int, total: int) -> None:
        now = self._clock()
        if self._first is None:
            self._first = (now, done)
        if done < total and now - self._last < self._every:
            return
        self._last = now
        started, first_step = self._first
        if done <= first_step or now <= started:
            self._report(done / total, f"step {done} of {total}")
            return
        rate = (done - first_step) / (now - started)
        self._report(
            done / total,
            f"step {done} of {total} at {rate:.2f} steps/s",
            steps_per_second=rate,
            eta_seconds=(total - done) / rate,
        )


def train_run_id(job: JobInfo) -> str:
    """The run id of a train job: the same for every worker that runs the job."""
    return naming.train_run_name(job.id, job.created)


def attribute_run_id(job: JobInfo, parent: str) -> str:
    """The run id of an attribute job replaying `parent`."""
    return naming.attribute_run_name(job.id, job.created, parent)


def handlers(out: Path, ledger: sessionmaker[Session]) -> dict[JobKind, Handler]:
    """The job handlers of a worker that keeps runs under `out` (its data directory: the
    corpus, model and upload folders are there too) and commits to `ledger`."""
    roots = Roots(Path(out))

    def progress(report: Report) -> Callable[[int, int], None]:
        return StepProgress(report)

    def resumed(run_id: str, report: Report) -> bool:
        """Finish the run `run_id` that an earlier attempt of this job prepared, if any."""
        path = Path(out) / "runs" / run_id
        if not (path / "recipe.json").is_file():
            # Absent, or prepared only in part by a worker that died: nothing to keep.
            shutil.rmtree(path, ignore_errors=True)
            return False
        if not (path / "summary.json").is_file():
            report(0.0, f"resuming run {run_id} from its last checkpoint")
            runs.execute(path, progress=False, ledger=ledger, on_progress=progress(report))
        report(1.0, f"run {run_id} done")
        return True

    def train(job: TrainJob, report: Report) -> None:
        corpus = roots.corpus(job.corpus_path)  # PayloadError outside the corpus folder
        model = roots.model(job.model)
        targets = None if job.targets_path is None else roots.targets(job.targets_path)
        run_id = train_run_id(report.job)
        if resumed(run_id, report):
            return
        runs.train(
            corpus,
            out,
            job.config,
            model_spec=model,
            targets_path=targets,
            lenient=job.lenient,
            progress=False,
            ledger=ledger,
            on_progress=progress(report),
            run_id=run_id,
        )
        report(1.0, f"run {run_id} done")

    def attribute(job: AttributeJob, report: Report) -> None:
        run_id = attribute_run_id(report.job, job.run_key)
        members = report.merge(
            []  # a replay already prepared keeps the jobs (and targets) it started with
            if (Path(out) / "runs" / run_id / "recipe.json").is_file()
            else merging.plan(job, queued_jobs(report))
        )
        if resumed(run_id, report):
            return
        merged = [AttributeJob.from_json(m.payload) for m in members]
        if members:
            ids = ", ".join(str(m.id) for m in members)
            report(0.0, f"replaying {job.run_key} once for this job and job(s) {ids}")
        runs.attribute(
            job.run_key,
            merging.merged_targets([job, *merged]),
            out,
            progress=False,
            ledger=ledger,
            on_progress=progress(report),
            run_id=run_id,
            generated=merging.merged_generated([job, *merged]),
        )
        report(1.0, f"run {run_id} done")

    return {JobKind.TRAIN: train, JobKind.ATTRIBUTE: attribute}


def queued_jobs(report: Report) -> list[tuple[int, AttributeJob]]:
    """The queued attribute jobs that could join `report.job`'s replay; a payload the worker
    would refuse is left out (it fails with its reason when claimed on its own)."""
    found = []
    for info in report.mergeable():
        try:
            found.append((info.id, AttributeJob.from_json(info.payload)))
        except PayloadError:
            continue
    return found
