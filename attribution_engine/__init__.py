"""In-Run Data Shapley for causal language models: exact per-step values by ghost dot products.

Public verbs: `step_values` scores one SGD step at the current weights without changing
anything; `InRunAttributor.step` performs a real optimizer step and returns every training
row's value for every target. Values: positive = the row lowered the target's loss, in nats.
"""

from attribution_engine.config import Accounting, AttributionConfig, Preconditioner, Strategy
from attribution_engine.errors import (
    AttributionInputError,
    NonFiniteError,
    UnsupportedModuleError,
)
from attribution_engine.shapley import specific_values
from attribution_engine.step import InRunAttributor, StepResult, step_values

__all__ = [
    "Accounting",
    "AttributionConfig",
    "AttributionInputError",
    "InRunAttributor",
    "NonFiniteError",
    "Preconditioner",
    "StepResult",
    "Strategy",
    "UnsupportedModuleError",
    "specific_values",
    "step_values",
]
