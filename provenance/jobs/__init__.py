"""Typed jobs: a payload type per kind, one `enqueue`, and (in handlers.py, which imports torch)
what the worker does with each kind.

The payloads and `enqueue` are torch-free, for the UI; import `provenance.jobs.handlers` only
where jobs run (`provenance worker`). The form builders of the Runs and Targets pages are in
forms.py.
"""

from provenance.jobs.payloads import (
    MAX_TARGETS,
    AttributeJob,
    JobKind,
    JobPayload,
    PayloadError,
    TrainJob,
    read_payload,
)
from provenance.jobs.queue import enqueue

__all__ = [
    "MAX_TARGETS",
    "AttributeJob",
    "JobKind",
    "JobPayload",
    "PayloadError",
    "TrainJob",
    "enqueue",
    "read_payload",
]
