"""The run a job makes, named after the job (torch-free: the UI links job rows to their runs).

A job's run is named after its creation time and id, so a worker that takes over the job of a
worker that died finds the run and resumes it; a job merged into another's replay
(merging.py) has that job's run.
"""

from __future__ import annotations

import datetime as dt


def train_run_name(job_id: int, created: dt.datetime) -> str:
    """The run id of train job `job_id`, queued at `created` (UTC)."""
    return f"run-{created:%Y%m%d-%H%M%S}-job{job_id}"


def attribute_run_name(job_id: int, created: dt.datetime, parent: str) -> str:
    """The run id of attribute job `job_id` (queued at `created`, UTC) replaying `parent`."""
    return f"{parent}-attr-{created:%Y%m%d%H%M%S}-job{job_id}"
