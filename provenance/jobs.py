"""What `provenance worker` does with each kind of job from the ledger's queue.

Payloads (JSON, written by the UI or any client with db.jobs.enqueue):
- "train": {"corpus": path, "targets": path | null, "model": "tiny-gpt2" | dir,
            "config": {TrainConfig fields}, "lenient": bool}
- "attribute": {"run_key": parent run id, "targets": path}  (one running job per run)
Progress is reported at every checkpoint, which also renews the job's lease.
"""

from collections.abc import Callable
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from attribution_engine.train_config import TrainConfig
from db.jobs import JobInfo
from provenance import runs

Report = Callable[[float, str | None], None]


def handlers(out: Path, ledger: sessionmaker[Session]) -> dict[str, Callable]:
    """The job handlers of a worker that keeps runs under `out` and commits to `ledger`."""

    def progress(report: Report) -> Callable[[int, int], None]:
        return lambda done, total: report(done / total, f"step {done} of {total}")

    def train(job: JobInfo, report: Report) -> None:
        payload = job.payload
        targets = payload.get("targets")
        run_id = runs.train(
            Path(payload["corpus"]),
            out,
            TrainConfig(**payload.get("config", {})),
            model_spec=payload.get("model", runs.TINY),
            targets_path=Path(targets) if targets else None,
            lenient=bool(payload.get("lenient", False)),
            progress=False,
            ledger=ledger,
            on_progress=progress(report),
        )
        report(1.0, f"run {run_id} done")

    def attribute(job: JobInfo, report: Report) -> None:
        payload = job.payload
        run_id = runs.attribute(
            payload["run_key"],
            Path(payload["targets"]),
            out,
            progress=False,
            ledger=ledger,
            on_progress=progress(report),
        )
        report(1.0, f"run {run_id} done")

    return {"train": train, "attribute": attribute}
