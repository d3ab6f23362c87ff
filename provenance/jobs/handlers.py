"""What `provenance worker` does with each kind of job from the ledger's queue.

Each handler receives its kind's typed payload (provenance/jobs/payloads.py), already checked
by the worker, and reports progress at every checkpoint, which also renews the job's lease.
"""

from collections.abc import Callable
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from provenance import runs
from provenance.jobs.payloads import AttributeJob, JobKind, TrainJob
from provenance.worker import Handler, Report


def handlers(out: Path, ledger: sessionmaker[Session]) -> dict[JobKind, Handler]:
    """The job handlers of a worker that keeps runs under `out` and commits to `ledger`."""

    def progress(report: Report) -> Callable[[int, int], None]:
        return lambda done, total: report(done / total, f"step {done} of {total}")

    def train(job: TrainJob, report: Report) -> None:
        run_id = runs.train(
            job.corpus_path,
            out,
            job.config,
            model_spec=job.model,
            targets_path=job.targets_path,
            lenient=job.lenient,
            progress=False,
            ledger=ledger,
            on_progress=progress(report),
        )
        report(1.0, f"run {run_id} done")

    def attribute(job: AttributeJob, report: Report) -> None:
        run_id = runs.attribute(
            job.run_key,
            job.targets,
            out,
            progress=False,
            ledger=ledger,
            on_progress=progress(report),
        )
        report(1.0, f"run {run_id} done")

    return {JobKind.TRAIN: train, JobKind.ATTRIBUTE: attribute}
