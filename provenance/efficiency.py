"""The efficiency check in words and numbers a reader can follow (DESIGN 2.1, 2.4).

The documents' values add up to the measured drop of the target's loss only under plain SGD
and small steps. Under AdamW the difference splits exactly into named terms:

    documents' values + optimizer's other terms + weight decay = first-order prediction
    first-order prediction + higher-order terms                = measured drop

Each gradient is credited in full at the step it entered, while momentum applies it over later
steps (the optimizer's other terms); decoupled weight decay moves the weights too and is
credited to no document; the prediction is first order in the step (curvature is the rest).
"""

from __future__ import annotations

import pandas as pd

from db.rankings import EfficiencyCheck

AGREEMENT = 0.20  # relative difference under which the values "agree" with the measured drop


def decomposition(check: EfficiencyCheck) -> pd.DataFrame:
    """The terms in order (columns term, nats); unmeasured terms are left out."""
    rows = [("Documents' values (what the ranking credits)", check.values_sum)]
    if check.decay_drop is not None:
        rows += [
            (
                "+ optimizer's other terms (momentum applies gradients over later steps)",
                check.optimizer_terms,
            ),
            ("+ weight decay (credited to no document)", check.decay_drop),
        ]
    rows += [
        ("= first-order prediction from the update applied", check.predicted_drop),
        ("+ higher-order terms (the step's curvature)", check.higher_order),
        ("= measured drop of the target's loss", check.realised_drop),
    ]
    return pd.DataFrame(rows, columns=["term", "nats"])


def agrees(check: EfficiencyCheck) -> bool:
    """Whether the documents' values add up to the measured drop within AGREEMENT."""
    return abs(check.realised_drop - check.values_sum) <= AGREEMENT * _scale(check)


def _scale(check: EfficiencyCheck) -> float:
    return max(abs(check.realised_drop), 1e-12)


def verdict(check: EfficiencyCheck) -> str:
    """One line: do the values add up to the measured drop, and if not, which term makes up
    the difference."""
    gap = check.realised_drop - check.values_sum
    scale = _scale(check)
    if agrees(check):
        return (
            f"The documents' values add up to the measured drop within {abs(gap) / scale:.0%} "
            f"over {check.steps} steps."
        )
    terms = {"higher-order terms": check.higher_order}
    if check.decay_drop is not None:
        terms = {
            "the optimizer's other terms (momentum)": check.optimizer_terms,
            "weight decay": check.decay_drop,
            **terms,
        }
    name, value = max(terms.items(), key=lambda item: abs(item[1]))
    return (
        f"The documents' values ({check.values_sum:.3g} nats) differ from the measured drop "
        f"({check.realised_drop:.3g} nats) by {-gap:+.3g} nats over {check.steps} steps; the "
        f"largest term is {name} ({value:+.3g} nats). Shares and rankings use the values; the "
        "difference is the optimizer's, not a document's."
    )
