"""What a user should do next, from what the ledger holds (pure, no Streamlit): the Overview's
first words for a ledger that is not the demo's.

The path is always the same: a finished training run, then targets (the texts to explain),
then their attribution (a replay of the run), then the answer on Attribution. The first step
missing is the one to take.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Stage = Literal["empty", "training", "no_targets", "attributing", "ready"]


@dataclass(frozen=True)
class LedgerState:
    """The counts the advice depends on (from `db.listings` reads)."""

    runs: int
    runs_done: int
    targets: int  # user targets, every run
    targets_attributed: int  # of those, attributed (their run is done and has values)
    jobs_open: int  # queued or running jobs


@dataclass(frozen=True)
class NextStep:
    stage: Stage
    words: str  # Markdown of our own fixed wording and counts only
    page: str | None  # the page that takes the step (views/<name>.py), None: a command


def next_step(state: LedgerState) -> NextStep:
    """The one thing to do next, in words, and where."""
    if state.runs == 0:
        if state.jobs_open:
            return NextStep(
                "training",
                f"{state.jobs_open} job(s) queued: a worker (`provenance worker`) trains the "
                "run; its progress shows under **Jobs** below.",
                None,
            )
        return NextStep("empty", "The ledger is empty: train a run first (below).", "views/runs.py")
    if state.runs_done == 0:
        return NextStep(
            "training",
            f"{state.runs} run(s), none finished yet: values appear as each run commits "
            "checkpoints. Is a worker running? Its jobs show under **Jobs** below; without one, "
            "start `provenance worker`.",
            None,
        )
    if state.targets == 0:
        return NextStep(
            "no_targets",
            "Next: add the texts you want explained on **Targets** (type or upload them, or "
            "sample one from a finished run's model), then queue their attribution.",
            "views/targets.py",
        )
    if state.targets_attributed == 0:
        waiting = "a worker is replaying the run" if state.jobs_open else "queue their attribution"
        return NextStep(
            "attributing",
            f"{state.targets} target(s), none attributed yet: {waiting} on **Targets** "
            "(a replay of the run computes every document's value for them).",
            "views/targets.py",
        )
    return NextStep(
        "ready",
        f"Ready: {state.targets_attributed} of {state.targets} target(s) attributed. Open "
        "**Attribution** to see which training documents made the model write each one, with "
        "the words they share; **Sources** rolls them up by rights holder.",
        "views/attribution.py",
    )
