"""The jobs table's pure parts: plain columns with no empty markers, runs linked, the time
left at the measured speed, the replay a queued job will join, and "no worker is running"."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from app import jobs_view
from attribution_engine.targets import TargetText
from provenance import pending
from provenance.jobs import AttributeJob

NOW = dt.datetime(2026, 12, 2, 12, 0, tzinfo=dt.UTC)


def _jobs(rows: list[dict]) -> pd.DataFrame:
    base = {
        "kind": "attribute",
        "run_key": "r",
        "progress": 0.0,
        "message": None,
        "lease_owner": None,
        "lease_expires": None,
        "merged_into": None,
        "steps_per_second": None,
        "eta_seconds": None,
        "created": NOW - dt.timedelta(seconds=60),
        "updated": NOW - dt.timedelta(seconds=10),
    }
    return pd.DataFrame([base | row for row in rows])


def test_running_job_shows_speed_time_left_and_its_run() -> None:
    jobs = _jobs(
        [
            {"id": 1, "status": "running", "progress": 0.5, "steps_per_second": 2.5}
            | {"eta_seconds": 70.0, "lease_expires": NOW + dt.timedelta(seconds=20)},
            {"id": 2, "status": "running", "merged_into": 1},
            {"id": 3, "status": "queued"},
        ]
    )
    shown = jobs_view.shown_jobs(jobs, {3: "will join the next replay"}, NOW)
    assert list(shown.columns) == list(jobs_view.SHOWN.values())
    first = shown[shown["Job"] == 1].iloc[0]
    assert first["Speed (steps/s, measured)"] == "2.50"
    assert first["Time left (at that speed)"] == "about 60 s"  # 70 s at the report, 10 s ago
    run = "attribution?run=r-attr-20261202115900-job1"
    assert first["Run (opens its attribution)"] == run
    assert shown[shown["Job"] == 2].iloc[0]["Run (opens its attribution)"] == run  # merged
    assert shown[shown["Job"] == 3].iloc[0]["Message"] == "will join the next replay"
    assert not shown.isna().any().any()
    assert not (shown.astype(str) == "None").any().any()
    assert not jobs_view.worker_missing(jobs, NOW)  # job 1's lease is live


def test_queued_jobs_without_a_live_lease_mean_no_worker() -> None:
    stale = _jobs([{"id": 1, "status": "queued"}])
    assert jobs_view.worker_missing(stale, NOW)
    just_queued = _jobs([{"id": 1, "status": "queued", "created": NOW}])
    assert not jobs_view.worker_missing(just_queued, NOW)  # a worker may not have polled yet
    expired = _jobs(
        [
            {"id": 1, "status": "running", "lease_expires": NOW - dt.timedelta(seconds=5)},
            {"id": 2, "status": "queued"},
        ]
    )
    assert jobs_view.worker_missing(expired, NOW)
    assert not jobs_view.worker_missing(_jobs([{"id": 1, "status": "done"}]), NOW)


def test_a_queued_target_joins_the_next_replay_of_its_run() -> None:
    def job(*ids: str) -> list[dict]:
        return AttributeJob("r", tuple(TargetText(i, f"text {i}") for i in ids)).to_json()[
            "targets"
        ]

    jobs = pd.DataFrame(
        {
            "id": [1, 2, 3, 4],
            "status": ["running", "queued", "queued", "queued"],
            "run_key": ["r", "r", "r", "s"],
            "targets": [job("a"), job("b", "c"), job("d"), job("e")],
        }
    )
    notes = pending.queue_notes(jobs)
    assert notes[2] == (
        "will join the next replay of run r with 1 other target(s), after job 1 (replaying "
        "now) finishes"
    )
    assert notes[3].startswith("will join the next replay of run r with 2 other target(s)")
    assert notes[4] == "starts the next replay of run s on its own when a worker takes it"
    assert 1 not in notes
