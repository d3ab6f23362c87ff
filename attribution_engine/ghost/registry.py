"""One registry of ghost rules, one signature: (module, inputs, output gradient) -> uses.

A rule turns one recorded call of a module into, for each of the module's own parameters, how
that call adds to every row's gradient (a FactoredUse or a SummedUse). Rules are pure: they
read the module's configuration and the captured tensors and never write onto the module.
Inputs and output gradients arrive with rows first: [N, ...].
"""

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from attribution_engine.ghost.uses import Use

UsesFn = Callable[[nn.Module, tuple[torch.Tensor, ...], torch.Tensor], dict[str, Use]]


@dataclass(frozen=True)
class GhostRule:
    """How to score a module type. `params` None covers every direct parameter."""

    uses: UsesFn
    params: tuple[str, ...] | None
    refuse: Callable[[nn.Module], str | None] = lambda module: None
    # For a module that returns a tuple: the element whose gradient the rule reads (a router's
    # logits, through which every path from its weight to the loss runs). None: a tensor.
    output: int | None = None

    def covers(self, name: str) -> bool:
        return self.params is None or name in self.params


_BY_TYPE: dict[type[nn.Module], GhostRule] = {}
_BY_SHAPE: list[tuple[Callable[[nn.Module], bool], GhostRule]] = []


def register(
    *types: type[nn.Module],
    params: tuple[str, ...],
    refuse: Callable[[nn.Module], str | None] | None = None,
    output: int | None = None,
) -> Callable[[UsesFn], UsesFn]:
    """Decorator: `fn` scores calls of modules of these types (subclasses included).
    `output`: for modules returning a tuple, the index of the element `fn` gets the gradient of."""

    def add(fn: UsesFn) -> UsesFn:
        rule = GhostRule(fn, params, output=output)
        if refuse is not None:
            rule = GhostRule(fn, params, refuse, output)
        for module_type in types:
            _BY_TYPE[module_type] = rule
        return fn

    return add


def register_shape(predicate: Callable[[nn.Module], bool]) -> Callable[[UsesFn], UsesFn]:
    """Decorator: `fn` scores any module `predicate` accepts (checked after the types)."""

    def add(fn: UsesFn) -> UsesFn:
        _BY_SHAPE.append((predicate, GhostRule(fn, None)))
        return fn

    return add


def rule_for(module: nn.Module) -> GhostRule | None:
    """The rule for this module: its type or nearest registered base class, then shape rules."""
    for module_type in type(module).__mro__:
        if module_type in _BY_TYPE:
            return _BY_TYPE[module_type]
    for predicate, rule in _BY_SHAPE:
        if predicate(module):
            return rule
    return None


def as_tokens(tensor: torch.Tensor, n_rows: int) -> torch.Tensor:
    """[N, T, k] view of a per-row tensor [N, ..., k] (T = 1 for [N, k])."""
    return tensor.reshape(n_rows, -1, tensor.shape[-1])
