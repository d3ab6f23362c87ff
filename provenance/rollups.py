"""Plain-words takedown estimates for roll-ups (pure pandas, no Streamlit)."""

from __future__ import annotations

import pandas as pd


def with_takedown(rolled: pd.DataFrame, field: str) -> pd.DataFrame:
    """The roll-up of one target with a `takedown` sentence per group.

    First order (DESIGN 6): removing a set of documents from training removes the sum of their
    values from the target's loss reduction. The raw values are the ones that add up to the
    target's loss reduction, so the estimate uses them; a negative sum means the loss
    reduction would be larger without the group.
    """
    frame = rolled.copy()
    sentences = []
    for group, raw in zip(frame[field], frame["raw"], strict=True):
        if raw >= 0:
            sentences.append(
                f"Without {field} {group}, the target's loss reduction would be about "
                f"{raw:.4f} nats lower."
            )
        else:
            sentences.append(
                f"Without {field} {group}, the target's loss reduction would be about "
                f"{-raw:.4f} nats higher (its documents worked against this text)."
            )
    frame["takedown"] = sentences
    return frame
