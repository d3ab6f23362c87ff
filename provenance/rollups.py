"""Plain-words takedown estimates for roll-ups (pure pandas, no Streamlit).

First order (DESIGN 6): removing a set of documents from training removes the sum of their raw
values from the target's loss reduction. That figure is only as good as the values' sum is
close to the measured drop (the efficiency check): under AdamW the values credit each gradient
in full at its step while momentum applies it over later steps, so a group's sum can exceed
the whole measured drop. The rule here: every estimate is shown beside the measured drop, and
one whose size exceeds it (or that cannot be checked) carries `FIRST_ORDER_CAVEAT`.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from provenance.labels import label

FIRST_ORDER_CAVEAT = (
    "more than the whole measured drop, so not a forecast in nats: the values over-count here "
    "(each gradient is credited in full at its step, while momentum applies it over later "
    "steps); read it as this group's weight against the others."
)
UNCHECKED_CAVEAT = (
    "the measured drop of this target's loss is not recorded, so this first-order figure "
    "cannot be checked against it."
)


@dataclass(frozen=True)
class Takedown:
    """The estimate for one group of one target (nats). `first_order` is the group's summed raw
    values: positive = removing the group would lower the target's loss reduction."""

    group: str
    first_order: float
    measured_drop: float | None  # the target's loss before training minus after; None: unknown
    beyond_measured: bool  # |first_order| exceeds the measured drop, or it is unknown
    sentence: str


def _nats(x: float) -> str:
    return f"{x:.4g} nats"


def takedown(field: str, group: str, raw: float, measured_drop: float | None) -> Takedown:
    """The estimate of removing every document of `group` (a value of `field`), in words."""
    if raw >= 0:
        effect = f"about {_nats(raw)} lower"
    else:
        effect = f"about {_nats(-raw)} higher (its documents worked against this text)"
    sentence = (
        f"Without {label(field).lower()} {group}, the target's loss reduction would be {effect}"
    )
    if measured_drop is None:
        return Takedown(group, raw, None, True, f"{sentence}; {UNCHECKED_CAVEAT}")
    beyond = abs(raw) > measured_drop
    sentence += f", first order, beside a measured drop of {_nats(measured_drop)}"
    if beyond:
        sentence += f"; {FIRST_ORDER_CAVEAT}"
    else:
        sentence += "."
    return Takedown(group, raw, measured_drop, beyond, sentence)


NET_SHARE_WORDS = (
    "Net value, share of all positive value: a group's specific value (its documents' help "
    "minus their harm, nats) over the sum of every positive specific value of the same rows. "
    "A group that harmed more than it helped has none (—); the shares of the groups add up to "
    "less than 100% when some documents harmed the target."
)


def net_shares(rolled: pd.DataFrame) -> pd.DataFrame:
    """A roll-up (`db.rankings.rollup`) whose `share` is named for what it is: `net_share`, the
    group's net specific value over the positive total (at most 1: a group's net value is at
    most the positive values it holds)."""
    return rolled.rename(columns={"share": "net_share"})


def with_takedown(rolled: pd.DataFrame, field: str, measured_drop: float | None) -> pd.DataFrame:
    """The roll-up of one target (`db.rankings.rollup`) with a `takedown` sentence per group
    and `beyond_measured` (the sentence carries the caveat)."""
    frame = rolled.copy()
    estimates = [
        takedown(field, str(group), float(raw), measured_drop)
        for group, raw in zip(frame[field], frame["raw"], strict=True)
    ]
    frame["takedown"] = [e.sentence for e in estimates]
    frame["beyond_measured"] = [e.beyond_measured for e in estimates]
    return frame
