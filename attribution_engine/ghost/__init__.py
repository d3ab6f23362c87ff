"""Ghost dot products: per-layer rules behind one registry, and the strategies that use them.

Importing the layer modules registers their rules.
"""

from attribution_engine.ghost import (  # noqa: F401  (register rules)
    embedding,
    experts,
    linear,
    norms,
    peft_layers,
    replay,
)
from attribution_engine.ghost.registry import (
    GhostRule,
    as_tokens,
    refuse_types,
    register,
    rule_for,
)
from attribution_engine.ghost.strategies import Scale, matrix_values, parameter_values
from attribution_engine.ghost.uses import FactoredUse, SummedUse, Use

__all__ = [
    "FactoredUse",
    "GhostRule",
    "Scale",
    "SummedUse",
    "Use",
    "as_tokens",
    "matrix_values",
    "parameter_values",
    "refuse_types",
    "register",
    "rule_for",
]
