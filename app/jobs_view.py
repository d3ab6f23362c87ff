"""The jobs table with live progress, ETA and failure messages (Overview and Runs pages)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from app import data, ui

REFRESH_S = 2  # the worker reports progress at every checkpoint; poll a little faster


def with_eta(jobs: pd.DataFrame, now: dt.datetime) -> pd.DataFrame:
    """Jobs with `eta_s`: for a running job, the time since it was queued scaled by what is
    left ((1 - p) / p); rough, it counts the queue wait too. None where unknown."""
    frame = jobs.copy()
    eta: list[float | None] = []
    for status, progress, created in zip(
        frame["status"], frame["progress"], frame["created"], strict=True
    ):
        if status == "running" and 0 < progress < 1 and created is not None:
            elapsed = (now - pd.Timestamp(created).to_pydatetime()).total_seconds()
            eta.append(round(max(0.0, elapsed) * (1 - progress) / progress))
        else:
            eta.append(None)
    frame["eta_s"] = pd.Series(eta, index=frame.index, dtype="float64")
    return frame


def live_jobs(prefix: str) -> None:
    """The jobs table, refreshed every REFRESH_S seconds without rerunning the page."""

    @st.fragment(run_every=REFRESH_S)
    def table() -> None:
        jobs = data.jobs_table(data.ledger_url())
        if jobs.empty:
            st.caption("No jobs yet. Queue one on Targets (attribution) or Runs (training).")
            return
        shown = with_eta(jobs, dt.datetime.now(dt.UTC))[
            ["id", "kind", "status", "run_key", "progress", "eta_s", "message", "created"]
        ].iloc[::-1]
        st.dataframe(
            shown,
            hide_index=True,
            width="stretch",
            key=f"{prefix}_jobs_table",
            column_config={
                "progress": st.column_config.ProgressColumn("progress", min_value=0, max_value=1),
                "eta_s": st.column_config.NumberColumn("about s left", format="%d"),
            },
        )
        failed = jobs[jobs["status"] == "failed"]
        for job_id, kind, message in zip(
            failed["id"], failed["kind"], failed["message"], strict=True
        ):
            st.error(f"Job {int(job_id)} failed; its message:")
            shown = f"{kind}: {message or '(no message)'}"  # user text: escaped by show_text
            ui.show_text(shown)
        if not jobs[jobs["status"].isin(["queued", "running"])].empty:
            st.caption(
                "Jobs run in `provenance worker`, never in this UI; start one if queued jobs "
                "do not move."
            )

    table()
