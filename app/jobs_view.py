"""The jobs table with live progress, the time left at the worker's measured speed, where a
queued job's targets will be replayed, and whether a worker is running (Overview and Runs)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from app import data, ui
from provenance import pending
from provenance.jobs.naming import attribute_run_name, train_run_name

REFRESH_S = 2  # the worker reports progress about once a second
# A worker polls the queue every few seconds (`provenance worker --poll`, default 2 s); a job
# queued longer than this while no job holds a live lease means no worker is running.
NO_WORKER_AFTER_S = 15
KINDS = {"train": "training", "attribute": "attribution"}
SHOWN = {
    "id": "Job",
    "kind": "Kind",
    "status": "Status",
    "run": "Run (opens its attribution)",
    "progress": "Progress",
    "speed": "Speed (steps/s, measured)",
    "left": "Time left (at that speed)",
    "message": "Message",
    "queued": "Queued at (UTC)",
}


def _known(value: object) -> bool:
    """Not None, NaN, NaT or pd.NA (the nullable job columns hold any of them)."""
    return value is not None and not pd.isna(value)  # type: ignore[call-overload]


def _utc(value: object) -> pd.Timestamp | None:
    return None if not _known(value) else pd.Timestamp(value).tz_convert("UTC")  # type: ignore[arg-type]


def worker_missing(jobs: pd.DataFrame, now: dt.datetime) -> bool:
    """True when jobs wait but no worker runs: a job queued over NO_WORKER_AFTER_S seconds ago
    while no running job holds a lease that has not expired (a live worker renews its lease
    every few seconds and claims a queued job within one poll)."""
    statuses = jobs["status"]
    queued = [_utc(c) for c, s in zip(jobs["created"], statuses, strict=True) if s == "queued"]
    if not queued:
        return False
    live = any(
        status == "running" and (expires := _utc(lease)) is not None and expires > now
        for status, lease in zip(jobs["status"], jobs["lease_expires"], strict=True)
    )
    oldest = min(q for q in queued if q is not None)
    return not live and (now - oldest.to_pydatetime()).total_seconds() > NO_WORKER_AFTER_S


def run_made(jobs: pd.DataFrame) -> list[str]:
    """The run each job makes (an attribute job merged into another's replay: that job's run);
    "" for a queued train job, whose run does not exist yet."""
    created = {int(i): _utc(c) for i, c in zip(jobs["id"], jobs["created"], strict=True)}
    made = []
    for job_id, kind, status, run_key, into in zip(
        jobs["id"], jobs["kind"], jobs["status"], jobs["run_key"], jobs["merged_into"], strict=True
    ):
        owner = int(into) if _known(into) else int(job_id)
        if kind == "attribute" and _known(run_key):
            made.append(
                attribute_run_name(owner, created[owner], run_key)
                if status in ("running", "done") and created.get(owner) is not None
                else run_key  # queued or failed: the run it replays
            )
        elif kind == "train" and status in ("running", "done"):
            made.append(train_run_name(owner, created[owner]))
        else:
            made.append("")
    return made


def shown_jobs(jobs: pd.DataFrame, notes: dict[int, str], now: dt.datetime) -> pd.DataFrame:
    """The jobs newest first with plain column names (SHOWN) and no empty markers: the run as
    a link, the measured speed, the time left at it (counted down from the worker's last
    report), and for a queued attribution job the replay it will join (`notes`)."""
    speed, left, message = [], [], []
    for job_id, status, rate, eta, updated, text in zip(
        jobs["id"],
        jobs["status"],
        jobs["steps_per_second"],
        jobs["eta_seconds"],
        jobs["updated"],
        jobs["message"],
        strict=True,
    ):
        speed.append(f"{rate:.2f}" if _known(rate) else "")
        if status == "running" and _known(eta):
            since = (now - _utc(updated).to_pydatetime()).total_seconds()  # type: ignore[union-attr]
            left.append(f"about {pending.duration(max(0.0, eta - since))}")
        elif status == "running":
            left.append("measuring")
        else:
            left.append("")
        note = notes.get(int(job_id))
        message.append(note if note else (text if _known(text) else ""))
    frame = pd.DataFrame(
        {
            "id": jobs["id"].astype("int64"),
            "kind": [KINDS.get(k, k) for k in jobs["kind"]],
            "status": jobs["status"],
            "run": [f"attribution?run={r}" if r else "" for r in run_made(jobs)],
            "progress": jobs["progress"].astype("float64"),
            "speed": speed,
            "left": left,
            "message": message,
            "queued": [f"{_utc(c):%Y-%m-%d %H:%M:%S}" for c in jobs["created"]],
        }
    )
    return frame.iloc[::-1].rename(columns=SHOWN)


def live_jobs(prefix: str) -> None:
    """The jobs table, refreshed every REFRESH_S seconds without rerunning the page."""

    @st.fragment(run_every=REFRESH_S)
    def table() -> None:
        url = data.ledger_url()
        jobs = data.jobs_table(url)
        if jobs.empty:
            st.caption("No jobs yet. Queue one on Targets (attribution) or Runs (training).")
            return
        now = dt.datetime.now(dt.UTC)
        if worker_missing(jobs, now):
            st.warning(
                "No worker is running: jobs are queued but none has been taken up. The UI "
                "only queues jobs; start a worker on the server with `provenance worker` "
                "(the same `--out` and `--db` as this UI), and the queue starts moving."
            )
        notes = pending.queue_notes(data.open_jobs(url, "attribute"))
        st.dataframe(
            shown_jobs(jobs, notes, now),
            hide_index=True,
            width="stretch",
            key=f"{prefix}_jobs_table",
            column_config={
                SHOWN["progress"]: st.column_config.ProgressColumn(
                    SHOWN["progress"], min_value=0, max_value=1
                ),
                SHOWN["run"]: st.column_config.LinkColumn(
                    SHOWN["run"], display_text=r"attribution\?run=(.*)$"
                ),
            },
        )
        failed = jobs[jobs["status"] == "failed"]
        for job_id, kind, message in zip(
            failed["id"], failed["kind"], failed["message"], strict=True
        ):
            st.error(f"Job {int(job_id)} failed; its message:")
            shown = f"{kind}: {message or '(no message)'}"  # user text: escaped by show_text
            ui.show_text(shown)

    table()
