"""In-Run Data Shapley for causal language models: exact per-step values by ghost dot products.

Public verbs: `step_values` scores one SGD step at the current weights without changing
anything; `InRunAttributor.step` performs a real optimizer step and returns every training
row's value for every target. Values: positive = the row lowered the target's loss, in nats.
"""

import importlib

# Imported on first use (PEP 562), so that `import attribution_engine.evidence` from the UI or
# a report does not pay for torch and the engine (about 3 s) before it needs them.
_EXPORTS = {
    "Accounting": "attribution_engine.config",
    "AttributionConfig": "attribution_engine.config",
    "Preconditioner": "attribution_engine.config",
    "Strategy": "attribution_engine.config",
    "AttributionInputError": "attribution_engine.errors",
    "NonFiniteError": "attribution_engine.errors",
    "UnsupportedModuleError": "attribution_engine.errors",
    "specific_values": "attribution_engine.shapley",
    "InRunAttributor": "attribution_engine.step",
    "StepResult": "attribution_engine.step",
    "step_values": "attribution_engine.step",
}


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'attribution_engine' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)


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
