"""Named fault points for the reliability tests (tests/reliability): kill the process, or fail a
write with "disk full" or an I/O error, at an exact place inside a checkpoint write or a ledger
commit.

Writers call `point("checkpoint.after_temp_write")` at the places where a crash or a failed
write matters. In normal use this does nothing: it is one dictionary lookup. A test arms points
through the environment variable PROVENANCE_FAULT_AT, the only one this module reads (and this
is the only module that reads it), so that a CLI subprocess can be armed without a code path of
its own:

    PROVENANCE_FAULT_AT="checkpoint.after_temp_write@2=kill"    SIGKILL at the 2nd hit
    PROVENANCE_FAULT_AT="ledger.before_commit=enospc"           OSError(ENOSPC) at the 1st hit
    PROVENANCE_FAULT_AT="a@1=eio,b@3=kill"                      several points, comma-separated

Hits are counted per point and per process, from 1. Actions: `kill` (SIGKILL to this process:
no cleanup, no finally blocks, no flush), `enospc` and `eio` (raise OSError with that errno).
"""

from __future__ import annotations

import errno
import os
import signal

ENV = "PROVENANCE_FAULT_AT"
ACTIONS = ("kill", "enospc", "eio")
# Every point a writer calls; arming any other name is refused so that a typo cannot pass a
# test by never firing.
POINTS = frozenset(
    {
        "checkpoint.before_write",  # temp file created, nothing written yet
        "checkpoint.after_temp_write",  # temp file written and fsynced, not yet renamed
        "checkpoint.after_rename",  # new checkpoint in place, older ones not yet pruned
        "ledger.before_writes",  # transaction open, nothing written yet
        "ledger.before_commit",  # every row of the commit written, COMMIT not yet sent
        "ledger.after_commit",  # committed, the loop not yet told
        "training.after_step",  # a step applied in memory, its checkpoint not yet due
    }
)

_armed: tuple[str, dict[str, tuple[int, str]]] = ("", {})
_hits: dict[str, int] = {}


def point(name: str) -> None:
    """Mark a named place in a writer; fires the fault armed there, if any."""
    spec = os.environ.get(ENV, "")
    if not spec:
        return
    plan = _plan(spec)
    _hits[name] = _hits.get(name, 0) + 1
    armed = plan.get(name)
    if armed is None or armed[0] != _hits[name]:
        return
    action = armed[1]
    if action == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    code = errno.ENOSPC if action == "enospc" else errno.EIO
    raise OSError(code, f"{os.strerror(code)} (injected at {name}, hit {_hits[name]})")


def reset() -> None:
    """Forget the armed spec and the hit counts (for tests that arm points in-process)."""
    global _armed
    _armed = ("", {})
    _hits.clear()


def _plan(spec: str) -> dict[str, tuple[int, str]]:
    """{point: (hit, action)} of `spec`; a new spec resets the hit counters."""
    global _armed
    if spec == _armed[0]:
        return _armed[1]
    plan = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        where, _, action = item.partition("=")
        name, _, hit = where.partition("@")
        action = action or "kill"
        if name not in POINTS or action not in ACTIONS or not (hit or "1").isdigit():
            raise ValueError(
                f"{ENV}={spec!r}: cannot arm {item!r}; use NAME[@HIT][=ACTION] with NAME one of "
                f"{sorted(POINTS)} and ACTION one of {list(ACTIONS)}"
            )
        plan[name] = (int(hit or "1"), action)
    _armed = (spec, plan)
    _hits.clear()
    return plan
