"""Leave-one-out at tiny settings: documents with higher values must, on the whole, raise the
target's loss more when they are removed from the run."""

import dataclasses

import numpy as np

from benchmarks.fidelity_common import pearson, spearman
from benchmarks.leave_one_out import LOO_RECIPE, LOOConfig, measure

TINY = LOOConfig(documents=32, recipe=dataclasses.replace(LOO_RECIPE, epochs=1), per_group=3)


def test_values_correlate_with_leave_one_out_effects(sotu_out):
    result = measure(TINY, sotu_out)
    values, effects = result["values"]["default"], result["effects"]["kept normaliser"]
    # the replay without removal is the attributed run itself (same steps, engine detached)
    assert abs(result["final_plain"] - result["final_attributed"]) < 1e-4
    assert pearson(values, effects) > 0
    assert spearman(values, effects) > 0
    top, bottom = effects[: TINY.per_group], effects[TINY.per_group : 2 * TINY.per_group]
    assert np.mean(top) > np.mean(bottom)
