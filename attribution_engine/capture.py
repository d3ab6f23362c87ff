"""The one object that owns the engine's hooks: it records each call of every module that
holds trainable parameters (its input, and its output gradient when autograd computes it).

Autograd computes the training gradient exactly as in plain training; the capture only reads.
Hooks are no-ops outside `recording`, and every handle is removed on exit, even after an error.
A recording may hand each call to a function as soon as its output gradient arrives, and then
drop the call's tensors (`recording(..., on_grad=...)`), instead of keeping every call's to the
end of the backward.
Rules see rows first, [N, T, ...]: a call on flattened tokens [N*T, ...] (OPT's FFN) is viewed
as [N, T, ...], and a table shared across rows [1, T, ...] is expanded to one copy per row.
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial

import torch
from torch import nn

from attribution_engine.errors import UnsupportedModuleError
from attribution_engine.ghost import GhostRule, Use, rule_for
from attribution_engine.ghost.registry import unsupported_reason
from attribution_engine.ghost.uses import materialise_sum
from attribution_engine.modes import without_autocast

HALF = (torch.float16, torch.bfloat16)
# Relative tolerance of the once-per-capture gradient check: float64 models that compute their
# norms in float32 inside (Cohere, Llama) differ by ~1e-7; a use left out is a large fraction.
_CHECK_TOLERANCE = {
    torch.float64: 1e-5,
    torch.float32: 1e-3,
    torch.float16: 1e-2,
    torch.bfloat16: 5e-2,
}


@dataclass
class Call:
    """One recorded call of a module: rows first, [N, ...]."""

    name: str
    module: nn.Module
    rule: GhostRule
    inputs: tuple[torch.Tensor, ...]
    output: torch.Tensor | None  # held while recording a target pass (differentiate reads it)
    grad: torch.Tensor | None = None
    version: int = 0  # output._version when recorded: a later in-place change moves it
    rows_tokens: tuple[int, int] | None = None  # (N, T) when called on flattened tokens [N*T, ...]
    call_args: tuple | None = None  # (args, kwargs) as forward got them, for replaying rules

    def store_grad(self, grad: torch.Tensor) -> None:
        if self.rows_tokens is not None:
            grad = grad.unflatten(0, self.rows_tokens)  # [N*T, ...] -> [N, T, ...]
        # The dot products run in fp32 at least: a half-precision capture is widened, explicitly.
        self.grad = grad.detach().float() if grad.dtype in HALF else grad.detach()

    def release(self) -> None:
        """Drop the call's tensors once its values are formed: its output gradient (the largest,
        a vocabulary wide at an LM head) and the inputs autograd frees after this module's own
        backward, so they are not all kept to the end of the backward."""
        self.grad, self.inputs, self.output, self.call_args = None, (), None, None

    def modified_in_place(self) -> bool:
        """Whether the model changed the output in place after the module returned it (CTRL
        scales its embeddings with *=): its gradient then differs from the recorded tensor's."""
        return self.output is not None and self.output._version != self.version


class Capture:
    """Hooks on every module with trainable parameters of `model`; use as a context manager."""

    def __init__(self, model: nn.Module) -> None:
        """Resolve every module's rule once, here (nothing is looked up per step); refuse,
        naming the module, anything whose trainable parameters no rule scores exactly."""
        self._modules: list[tuple[str, nn.Module, GhostRule]] = []
        unscored: list[tuple[str, nn.Module, list[str]]] = []
        for name, module in model.named_modules():
            own = [n for n, p in module.named_parameters(recurse=False) if p.requires_grad]
            if not own:
                continue
            rule = rule_for(module)
            if rule is None:
                unscored.append((name, module, own))
                continue
            reason = rule.refuse(module)
            if reason:
                raise UnsupportedModuleError(_refusal(name, module, own, reason))
            uncovered = [n for n in own if not rule.covers(n)]
            if uncovered:
                raise UnsupportedModuleError(
                    _refusal(name, module, uncovered, "its ghost rule does not cover them")
                )
            self._modules.append((name, module, rule))
        scored = {id(m) for _, m, _ in self._modules}
        for name, module, own in unscored:
            # A parameter that a scored child also owns (the bias of a BERT-style LM head, which
            # its decoder Linear applies) is scored there, where it is applied, exactly once.
            below = [
                id(p) for m in module.modules() if id(m) in scored for p in m.parameters(False)
            ]
            missing = [n for n in own if id(getattr(module, n)) not in below]
            if not missing:
                continue
            if isinstance(module, nn.ParameterDict | nn.ParameterList) and "." in name:
                self._adopt(model, name, missing, scored)  # its parent reads them
                continue
            raise UnsupportedModuleError(
                _refusal(name, module, missing, unsupported_reason(module))
            )
        self._names = {id(p): name for name, p in model.named_parameters(remove_duplicate=False)}
        self._params = [p for p in model.parameters() if p.requires_grad]
        self._checked = False  # whether a target pass has been checked against autograd
        self._handles: list[torch.utils.hooks.RemovableHandle] = []
        self._calls: list[Call] | None = None
        self._on_grad: Callable[[Call], None] | None = None
        self._keep_outputs = True
        self._rows, self._tokens = 0, 0

    def _adopt(self, model: nn.Module, name: str, held: list[str], scored: set[int]) -> None:
        """A bare container of parameters (peft's lora_embedding_A) is read by its parent's
        forward: the parent is scored if its rule replays that forward, refused otherwise."""
        parent, leaf = name.rsplit(".", 1)
        owner = model.get_submodule(parent)
        rule = rule_for(owner)
        if rule is None or not rule.replay:
            held = [f"{leaf}.{n}" for n in held]
            raise UnsupportedModuleError(_refusal(parent, owner, held, unsupported_reason(owner)))
        if id(owner) not in scored:
            self._modules.append((parent, owner, rule))
            scored.add(id(owner))

    def __enter__(self) -> "Capture":
        for name, module, rule in self._modules:
            hook = self._make_hook(name, rule)
            self._handles.append(module.register_forward_hook(hook, with_kwargs=True))
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Remove every hook; safe to call twice."""
        for handle in self._handles:
            handle.remove()
        self._handles.clear()
        self._calls = None

    @property
    def hooked(self) -> list[nn.Module]:
        """The modules whose calls are recorded (each holds trainable parameters)."""
        return [module for _, module, _ in self._modules]

    def parameter_name(self, param: nn.Parameter) -> str:
        return self._names.get(id(param), "<unnamed parameter>")

    @contextmanager
    def recording(
        self,
        n_rows: int,
        n_tokens: int,
        on_grad: Callable[[Call], None] | None = None,
        keep_outputs: bool = True,
    ) -> Iterator[list[Call]]:
        """Record the calls of one forward over `n_rows` rows of `n_tokens` tokens (and their
        gradients). `n_tokens` lets calls on flattened tokens [N*T, ...] map back to rows.

        With `on_grad`, each call is handed to it inside the backward, as soon as its output
        gradient arrives, and then released (`Call.release`): the list then holds empty calls.
        Modules that `on_grad` runs (a replaying rule) are not recorded.
        `keep_outputs=False` (an ordinary backward, which needs no `differentiate`) holds no
        call's output: an LM head's is the logits, which autograd frees after the loss (196 MiB
        at GPT-2-small's 4 x 256 tokens, held across the start of the backward otherwise)."""
        if not self._handles:
            raise RuntimeError("Capture is closed; use it inside `with Capture(model):`")
        calls: list[Call] = []
        self._calls, self._rows, self._tokens = calls, n_rows, n_tokens
        self._on_grad, self._keep_outputs = on_grad, keep_outputs
        try:
            yield calls
        finally:
            self._calls, self._on_grad = None, None
            for call in calls:
                call.output = None

    def _arrived(self, call: Call, on_grad: Callable[[Call], None], grad: torch.Tensor) -> None:
        """The output-gradient hook of a recording with `on_grad`: the call is scored now and
        its tensors are dropped, whatever on_grad raises (the step is then abandoned)."""
        call.store_grad(grad)
        recording, self._calls = self._calls, None  # rules replaying a forward record nothing
        try:
            on_grad(call)
        finally:
            self._calls = recording
            call.release()

    def differentiate(self, loss: torch.Tensor, calls: list[Call]) -> None:
        """Backward of a target loss that stores every recorded call's output gradient.

        The first time (once per Capture, so nothing per step) the parameters' gradients are
        computed too and each must equal the sum over rows of what the rules account for:
        a parameter also used outside its module (F.linear(x, m.weight)), or any use a rule
        misreads, is refused here, before any step is applied."""
        if self._checked:
            torch.autograd.grad(loss, gradient_inputs(calls), allow_unused=True)
            return
        outputs = [c.output for c in calls if not c.modified_in_place()]
        grads = torch.autograd.grad(loss, outputs + self._params, allow_unused=True)
        recording, self._calls = self._calls, None  # rules replaying a forward record nothing
        try:
            with without_autocast(loss.device):  # as the dot products: in the capture's dtype
                # Under autocast the layers compute in half precision whatever the weights' dtype.
                loose = max(_CHECK_TOLERANCE.get(c.output.dtype, 5e-2) for c in calls)
                self._check(calls, grads[len(outputs) :], loose)
        finally:
            self._calls = recording
        self._checked = True

    def _check(
        self, calls: list[Call], grads: tuple[torch.Tensor | None, ...], loose: float
    ) -> None:
        uses = uses_by_parameter(calls)
        # Gradients that are zero in exact arithmetic (a key bias, which softmax ignores) are
        # rounding noise on both sides: compare them at the scale of the whole gradient.
        whole = sum(float(g.double().norm()) ** 2 for g in grads if g is not None) ** 0.5
        for param, direct in zip(self._params, grads, strict=True):
            mine = uses.get(param, [])
            accounted = torch.zeros(param.shape, dtype=torch.float64, device=param.device)
            for row in range(mine[0].n_rows if mine else 0):  # one row at a time: small memory
                accounted += materialise_sum([u.rows(row, row + 1) for u in mine], param.shape)[0]
            truth = torch.zeros_like(accounted) if direct is None else direct.double()
            relative = max(loose, _CHECK_TOLERANCE[param.dtype])
            tolerance = relative * (float(truth.norm()) + 1e-3 * whole)
            if float((accounted - truth).norm()) > tolerance:
                name = self.parameter_name(param)
                raise UnsupportedModuleError(
                    f"parameter '{name}' gets a gradient that its modules' recorded calls do not "
                    "account for (relative difference "
                    f"{float((accounted - truth).norm()) / (float(truth.norm()) + 1e-30):.2e}): "
                    "it is used a second time in a way no rule scores, e.g. functionally "
                    "(F.linear(x, m.weight)) or by another module that reads it differently. "
                    f"Freeze it (requires_grad_(False)), use it only through its module, or "
                    "register a rule with attribution_engine.ghost.register"
                )

    def _make_hook(self, name: str, rule: GhostRule):
        def hook(module: nn.Module, args: tuple, kwargs: dict, output: object):
            if self._calls is None:
                return None
            whole = output
            if isinstance(output, tuple) and rule.output is not None:
                output = output[rule.output]  # the element the rule reads the gradient of
            if not isinstance(output, torch.Tensor):
                raise UnsupportedModuleError(
                    f"module '{name}' ({type(module).__name__}) returned "
                    f"{type(output).__name__}, not a tensor, and its rule reads one tensor's "
                    "gradient; freeze its parameters (requires_grad_(False)) or register a rule "
                    "for it with attribution_engine.ghost.register(..., output=index)"
                )
            if not output.requires_grad:
                return None  # nothing reaches the loss through this call (a no_grad side call)
            inputs = tuple(a for a in (*args, *kwargs.values()) if isinstance(a, torch.Tensor))
            n, t = self._rows, self._tokens
            replaced, rows_tokens = None, None
            if rule.rowless:
                output = replaced = output.unsqueeze(0).expand(n, *output.shape)
            elif output.shape[0] == n:
                pass
            elif t > 1 and output.shape[0] == n * t:
                # Flattened tokens (OPT runs its FFN on [N*T, d]): rows first again, as views.
                rows_tokens = (n, t)
                inputs = tuple(
                    a.unflatten(0, rows_tokens) if _flat(a, n * t) else a for a in inputs
                )
            elif output.shape[0] == 1 and output.dim() >= 2:
                # Shared across rows (position ids [1, T]): one copy per row keeps each row's
                # gradient apart; autograd sums the copies, exactly as broadcasting would.
                # Inputs shared alike are expanded; per-row ones (a mask [N, T]) stay.
                output = replaced = output.expand(n, *output.shape[1:])
                inputs = tuple(_expand(a, n) for a in inputs)
            else:
                # Not rows: refused if, and only when, a gradient flows back through it. A side
                # call whose result the model only uses detached (peft's DoRA builds its weight
                # norm from lora_A(identity)) never reaches the loss and is not a use.
                refusal = UnsupportedModuleError(
                    f"module '{name}' ({type(module).__name__}) was called on a tensor with "
                    f"leading dimension {output.shape[0]}, neither the {n} rows of the batch, "
                    f"nor its {n}x{t} flattened tokens, nor 1 (a table shared by all rows), so "
                    "its values cannot be assigned to rows; freeze its parameters "
                    "(requires_grad=False) or register a rule for it with "
                    "attribution_engine.ghost.register"
                )
                output.register_hook(partial(_refuse_gradient, refusal))
                return None
            widened = tuple(a.detach().float() if a.dtype in HALF else a.detach() for a in inputs)
            kept = output if self._keep_outputs else None
            call = Call(name, module, rule, widened, kept, version=output._version)
            call.rows_tokens = rows_tokens
            if rule.replay:
                call.call_args = _detached((args, kwargs))
            if self._on_grad is None:
                output.register_hook(call.store_grad)
            else:
                output.register_hook(partial(self._arrived, call, self._on_grad))
            self._calls.append(call)
            if replaced is not None and isinstance(whole, tuple) and rule.output is not None:
                return (*whole[: rule.output], replaced, *whole[rule.output + 1 :])
            return replaced

        return hook


def _refusal(name: str, module: nn.Module, params: list[str], why: str) -> str:
    """The one refusal message: the module path, its class, why, and what the user can do."""
    cls = type(module)
    return (
        f"module '{name}' ({cls.__module__}.{cls.__qualname__}) holds trainable parameters "
        f"{params} that the engine cannot score exactly: {why}. Freeze them "
        f"(model.get_submodule('{name}').requires_grad_(False)), or register a rule for "
        f"{cls.__name__} with attribution_engine.ghost.register (attribution_engine/README.md, "
        "'Adding a module type')"
    )


def _detached(tree: object) -> object:
    """The same nested args with every tensor detached (a replaying rule differentiates anew)."""
    if isinstance(tree, torch.Tensor):
        return tree.detach()
    if isinstance(tree, tuple | list):
        return type(tree)(_detached(item) for item in tree)
    if isinstance(tree, dict):
        return {key: _detached(value) for key, value in tree.items()}
    return tree


def _expand(tensor: torch.Tensor, n_rows: int) -> torch.Tensor:
    if tensor.dim() >= 1 and tensor.shape[0] == 1:
        return tensor.expand(n_rows, *tensor.shape[1:])
    return tensor


def _refuse_gradient(refusal: UnsupportedModuleError, grad: torch.Tensor) -> None:
    raise refusal


def _flat(tensor: torch.Tensor, n_tokens: int) -> bool:
    return tensor.dim() >= 1 and tensor.shape[0] == n_tokens


def gradient_inputs(calls: list[Call]) -> list[torch.Tensor]:
    """What to differentiate the target loss with respect to so that every call's hook fires:
    its output, or, where the model changed that output in place afterwards, the module's
    trainable parameters (autograd then passes through the recorded value and its hook)."""
    out: list[torch.Tensor] = []
    for call in calls:
        if call.modified_in_place():
            out.extend(p for p in call.module.parameters(recurse=False) if p.requires_grad)
        else:
            out.append(call.output)
    return out


def uses_by_parameter(calls: list[Call]) -> dict[nn.Parameter, list[Use]]:
    """Every trainable parameter's uses in the recorded calls (a tied weight has several)."""
    uses: dict[nn.Parameter, list[Use]] = {}
    for call in calls:
        for param, use in call_uses(call):
            uses.setdefault(param, []).append(use)
    return uses


def call_uses(call: Call) -> list[tuple[nn.Parameter, Use]]:
    """The trainable parameters one call uses, each with its use; none if the call's output
    did not reach the loss (no gradient)."""
    if call.grad is None:
        return []
    out = []
    for attr, use in _rule_uses(call).items():
        param = call.module.get_parameter(attr)  # dotted for a container's entry
        if param.requires_grad:
            out.append((param, use))
    return out


def _rule_uses(call: Call) -> dict[str, Use]:
    """The call's uses; a rule that cannot read this call (a shape it was not written for)
    becomes the engine's refusal, naming the module, instead of a raw crash mid-step."""
    try:
        inputs = call.call_args if call.rule.replay else call.inputs
        return call.rule.uses(call.module, inputs, call.grad)
    except UnsupportedModuleError:
        raise
    except (IndexError, RuntimeError, TypeError, ValueError) as error:
        params = [n for n, p in call.module.named_parameters(recurse=False) if p.requires_grad]
        why = f"its rule failed on this call ({type(error).__name__}: {error})"
        raise UnsupportedModuleError(_refusal(call.name, call.module, params, why)) from error
