"""One registry of ghost rules, one signature: (module, inputs, output gradient) -> uses.

A rule turns one recorded call of a module into, for each of the module's own parameters, how
that call adds to every row's gradient (a FactoredUse or a SummedUse). Rules are pure: they
read the module's configuration and the captured tensors and never write onto the module.
Inputs and output gradients arrive with rows first: [N, ...].

A rule applies only to what it was written for: the exact class registered, or a subclass that
keeps that class's own `forward` (the same function object). A subclass that overrides
`forward` (Gemma's embedding that multiplies by embed_scale) computes something else and gets
no rule unless one is registered for it; the capture then refuses it by name.
Rules are looked up once, when the capture is built: nothing here runs per step.
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
    # The output has no row dimension ([T, ...], one table for every row: Whisper's positions);
    # the capture hands on one copy per row, [N, T, ...], so each row's gradient stays apart.
    rowless: bool = False
    # The rule replays the module's forward: it gets inputs = (args, kwargs) exactly as the
    # forward got them (tensors detached), instead of the tensors alone.
    replay: bool = False

    def covers(self, name: str) -> bool:
        return self.params is None or name in self.params


# Keyed by "module.QualName", so a rule for a transformers class is registered without importing
# that model's code (the Gemma family alone is a dozen modules).
_BY_TYPE: dict[str, GhostRule] = {}
_REFUSED: dict[str, str] = {}  # "module.QualName" -> why no rule can score it (and what to do)
_BY_SHAPE: list[tuple[Callable[[nn.Module], bool], GhostRule]] = []


def register(
    *types: type[nn.Module] | str,
    params: tuple[str, ...],
    refuse: Callable[[nn.Module], str | None] | None = None,
    output: int | None = None,
    rowless: bool = False,
    replay: bool = False,
) -> Callable[[UsesFn], UsesFn]:
    """Decorator: `fn` scores calls of modules of exactly these types (and of subclasses that
    keep the type's own forward). A type may be given as its "module.QualName" string.
    `output`: for modules returning a tuple, the index of the element `fn` gets the gradient of."""

    def add(fn: UsesFn) -> UsesFn:
        rule = GhostRule(fn, params, output=output, rowless=rowless, replay=replay)
        if refuse is not None:
            rule = GhostRule(fn, params, refuse, output, rowless, replay)
        for module_type in types:
            _BY_TYPE[module_type if isinstance(module_type, str) else _key(module_type)] = rule
        return fn

    return add


def refuse_types(*names: str, why: str) -> None:
    """Name classes that no rule may take (not even a shape rule), with the reason to show."""
    for name in names:
        _REFUSED[name] = why


def register_shape(predicate: Callable[[nn.Module], bool]) -> Callable[[UsesFn], UsesFn]:
    """Decorator: `fn` scores any module `predicate` accepts (checked after the types)."""

    def add(fn: UsesFn) -> UsesFn:
        _BY_SHAPE.append((predicate, GhostRule(fn, None)))
        return fn

    return add


def rule_for(module: nn.Module) -> GhostRule | None:
    """The rule for this module: its exact type's, or that of its nearest registered base class
    when the module keeps that base's forward; then the shape rules. None: no rule applies
    (`unsupported_reason` says why)."""
    if _key(type(module)) in _REFUSED:
        return None
    base = _registered_base(type(module))
    if base is not None and type(module).forward is base.forward:
        return _BY_TYPE[_key(base)]
    for predicate, rule in _BY_SHAPE:
        if predicate(module):
            return rule
    return None


def unsupported_reason(module: nn.Module) -> str:
    """Why no rule applies to `module` (for the capture's error message)."""
    cls = type(module)
    if _key(cls) in _REFUSED:
        return _REFUSED[_key(cls)]
    base = _registered_base(cls)
    if base is not None:
        return (
            f"it subclasses {base.__module__}.{base.__qualname__} but overrides forward, so "
            f"the rule for {base.__name__} would compute something other than what "
            f"{cls.__name__} does"
        )
    return f"no ghost rule is registered for {cls.__module__}.{cls.__qualname__}"


def _registered_base(cls: type) -> type | None:
    return next((base for base in cls.__mro__ if _key(base) in _BY_TYPE), None)


def _key(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def as_tokens(tensor: torch.Tensor, n_rows: int) -> torch.Tensor:
    """[N, T, k] view of a per-row tensor [N, ..., k] (T = 1 for [N, k])."""
    return tensor.reshape(n_rows, -1, tensor.shape[-1])
