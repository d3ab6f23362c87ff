"""What `provenance worker` does with each kind of job from the ledger's queue.

Each handler receives its kind's typed payload (provenance/jobs/payloads.py), already checked
by the worker, and resolves every name in it against the worker's own folders (roots.py)
before it opens anything: a payload written by any client reads nothing outside them.

A job's run is named after the job (its creation time and id), so a worker that takes over the
job of a worker that died finds the run and resumes it from its last checkpoint (the ledger
commits are absolute values, so the resumed run ends bit-identical to an uninterrupted one,
docs/reliability.md 1), instead of starting a second run.
"""

import shutil
from collections.abc import Callable
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from db.jobs import JobInfo
from provenance import runs
from provenance.jobs.payloads import AttributeJob, JobKind, TrainJob
from provenance.jobs.roots import Roots
from provenance.worker import Handler, Report


def train_run_id(job: JobInfo) -> str:
    """The run id of a train job: the same for every worker that runs the job."""
    return f"run-{job.created:%Y%m%d-%H%M%S}-job{job.id}"


def attribute_run_id(job: JobInfo, parent: str) -> str:
    """The run id of an attribute job replaying `parent`."""
    return f"{parent}-attr-{job.created:%Y%m%d%H%M%S}-job{job.id}"


def handlers(out: Path, ledger: sessionmaker[Session]) -> dict[JobKind, Handler]:
    """The job handlers of a worker that keeps runs under `out` (its data directory: the
    corpus, model and upload folders are there too) and commits to `ledger`."""
    roots = Roots(Path(out))

    def progress(report: Report) -> Callable[[int, int], None]:
        return lambda done, total: report(done / total, f"step {done} of {total}")

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
        if resumed(run_id, report):
            return
        runs.attribute(
            job.run_key,
            job.targets,
            out,
            progress=False,
            ledger=ledger,
            on_progress=progress(report),
            run_id=run_id,
        )
        report(1.0, f"run {run_id} done")

    return {JobKind.TRAIN: train, JobKind.ATTRIBUTE: attribute}
