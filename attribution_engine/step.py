"""One optimizer step with In-Run Data Shapley values, and the pure scoring of a step.

`step_values` scores a step at the current weights without changing anything (the SGD closed
form, for oracle tests). `InRunAttributor.step` performs the real step: autograd computes the
training gradient as in plain training, the optimizer applies it, and every training row gets
one value per target. Target rows never enter the update. Under the SGD proxy at first order
each training call's values are formed inside the backward, as its output gradient arrives
(`_ValuesInHooks`); Adam's scales (v_hat after clipping) and second order need the whole
gradient first, so their calls are kept and scored after the backward (`_values`).
Dimension legend: B training rows, V targets.
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from attribution_engine.budget import TargetMemory
from attribution_engine.capture import Call, Capture, call_uses, uses_by_parameter
from attribution_engine.config import (
    Accounting,
    AttributionConfig,
    Strategy,
    resolve_accounting,
)
from attribution_engine.errors import AttributionInputError, NonFiniteError, UnsupportedModuleError
from attribution_engine.ghost import Scale, Use, matrix_values, parameter_values
from attribution_engine.ghost.uses import cat_uses
from attribution_engine.modes import eval_mode, without_autocast
from attribution_engine.objective import (
    predicted_counts,
    row_loss_sums,
    validate_rows,
    vocab_size_of,
)
from attribution_engine.shapley import (
    adam_scales,
    check_adam_state,
    param_group,
    second_order_columns,
    sgd_scales,
)

Rows = Mapping[str, torch.Tensor]


@dataclass(frozen=True)
class StepResult:
    """What one attributed step measured. Values: positive = lowered the target's loss (nats)."""

    values: torch.Tensor  # float64 [B, V], second-order part included when order = 2
    second_order: torch.Tensor | None  # float64 [B, V], the part of `values` from order 2
    train_loss: float  # the step's objective, nats per predicted token
    target_losses: torch.Tensor  # float64 [V], each target's mean token loss before the step
    predicted_drop: torch.Tensor  # float64 [V], g_v . (w_before - w_after): first-order drop
    # float64 [V], g_v . (the step's weight-decay displacement): the part of predicted_drop that
    # decay, credited to no row, accounts for (decay_factor says where it is separable)
    decay_drop: torch.Tensor
    lr: float  # learning rate of the first parameter group
    clip_factor: float  # c_t = min(1, max_norm / (norm + 1e-6)); 1 without clipping
    accounting: Accounting

    @property
    def values_sum(self) -> torch.Tensor:
        """float64 [V]: the efficiency check's left side, to compare with predicted_drop."""
        return self.values.sum(dim=0)


def step_values(
    model: nn.Module,
    batch: Rows,
    targets: Rows,
    *,
    lr: float,
    order: int = 1,
    strategy: Strategy = Strategy.AUTO,
) -> torch.Tensor:
    """float64 [B, V]: In-Run Data Shapley values of one plain-SGD step at the current weights.

    Row i's gradient is that of (sum of its token losses) / (predicted label tokens in the
    whole batch); target v's loss is its mean token loss. Order 1: lr g_v . g_i; order 2 adds
    -(lr^2 / 2) g_i^T H_v (sum_j g_j). Positive = lowered the target's loss, in nats. The
    model's weights, gradients and modes are left exactly as they were.
    """
    AttributionConfig(order=order)  # validates `order`
    params = _trainable(model)
    n_total = _validate(model, [batch], targets)
    saved = [p.grad for p in params]
    try:
        for p in params:
            p.grad = None
        with Capture(model) as capture:
            n_targets = int(targets["input_ids"].shape[0])
            target_losses, target_uses = target_passes(model, capture, targets, [(0, n_targets)])
            _, calls = _train_pass(model, capture, batch, n_total, "batch")
            _check_finite_grads(params, capture)
            scales = sgd_scales(params, [float(lr)] * len(params), 1.0)
            extra = (
                second_order_columns(model, targets, params, scales, 1.0) if order == 2 else None
            )
            values = _values(
                capture, [calls], target_uses, n_targets, params, scales, extra, strategy
            )
    finally:
        for p, grad in zip(params, saved, strict=True):
            p.grad = grad
    return _fold(values, target_losses.shape[0], order)[0]


class InRunAttributor:
    """Performs attributed optimizer steps for one model, optimizer and set of targets.

    Owns the hooks for its lifetime: use it as a context manager or call close(). It owns the
    step too: gradients are reset at the start of every step.
    """

    def __init__(
        self,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        targets: Rows,
        config: AttributionConfig | None = None,
    ) -> None:
        self.model, self.optimizer = model, optimizer
        self.config = config or AttributionConfig()
        self.accounting = _resolve_accounting(self.config.accounting, optimizer)
        validate_rows(targets, "targets", vocab_size_of(model))
        _check_targets_predict(targets)
        self.targets = dict(targets)
        self._params = _trainable(model)
        capture = Capture(model)
        limit = self.config.target_memory_mib
        memory = TargetMemory.estimate(
            capture.hooked,
            vocab_size_of(model) or 0,  # a model that hides its embedding: no logits counted
            int(targets["input_ids"].shape[1]),
            max(4, self._params[0].element_size()),  # half-precision captures are widened
        )
        # Refused here, before any hook is placed or any step runs.
        self._target_chunks = memory.chunks(
            int(targets["input_ids"].shape[0]), None if limit is None else limit * 2**20
        )
        self._capture = capture.__enter__()

    def __enter__(self) -> "InRunAttributor":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Remove every hook the attributor placed; safe to call twice."""
        self._capture.close()

    def step(self, batch: Rows | Sequence[Rows]) -> StepResult:
        """One optimizer step over `batch` (or over its micro-batches, accumulated)."""
        micro = [batch] if isinstance(batch, Mapping) else list(batch)
        model, optimizer, config, params = self.model, self.optimizer, self.config, self._params
        n_total = _validate(model, micro, self.targets)
        optimizer.zero_grad(set_to_none=True)
        model.zero_grad(set_to_none=True)
        try:
            target_losses, target_uses = target_passes(
                model, self._capture, self.targets, self._target_chunks
            )
            n_targets = target_losses.shape[0]
            in_hooks = None
            if self.accounting is Accounting.SGD_PROXY and config.order == 1:
                # lr * c per parameter: c, known after the backward, multiplies all at the end
                in_hooks = _ValuesInHooks(target_uses, self._scales(1.0)[0], config.strategy)
            train_loss, per_batch = 0.0, []
            for k in self._local_micro_batches(len(micro)):
                label = "batch" if len(micro) == 1 else f"micro-batch {k}"
                first = sum(int(m["input_ids"].shape[0]) for m in micro[:k])
                on_grad = None if in_hooks is None else in_hooks.micro_batch(micro[k], n_targets)
                loss, calls = _train_pass(
                    model, self._capture, micro[k], n_total, label, first, on_grad
                )
                train_loss += loss
                if in_hooks is None:
                    per_batch.append(calls)
                del calls  # per_batch holds them: freed with it before the optimizer step
            self._reduce_gradients()
            norm = _check_finite_grads(params, self._capture)
            clip = 1.0
            if config.max_grad_norm is not None:
                clip = min(1.0, config.max_grad_norm / (float(norm) + 1e-6))
                torch.nn.utils.clip_grads_with_norm_(params, config.max_grad_norm, norm)
            scales, moments, extra = {}, {}, None
            if in_hooks is not None:
                _check_scored(self._capture, params, in_hooks.seen)
                values = torch.cat(in_hooks.blocks) * clip
            else:
                scales, moments = self._scales(clip)
                if config.order == 2:
                    extra = second_order_columns(model, self.targets, params, scales, clip)
                values = _values(
                    self._capture,
                    per_batch,
                    target_uses,
                    n_targets,
                    params,
                    scales,
                    extra,
                    config.strategy,
                )
        except BaseException:
            model.zero_grad(set_to_none=True)  # nothing half-applied: no step, no gradients
            raise
        # The training captures and Adam's scales (one more copy of the weights) are done with:
        # freed before the step, which holds the weights before it for the efficiency check.
        del per_batch, scales, extra
        before = [p.detach().clone() for p in params]
        optimizer.step()
        if moments:
            check_adam_state(optimizer, moments)
        # [V, 2]: g_v . (w_before - w_after) and g_v . decay, in one pass over the captures,
        # which frees each parameter's copy in `before` once used
        dots = _target_dots(target_uses, params, before, optimizer, target_losses.shape[0]).cpu()
        values, train_loss = self._gather(values, train_loss)
        values, second = _fold(values.cpu(), target_losses.shape[0], config.order)  # [B, V] on CPU
        return StepResult(
            values=values,
            second_order=second,
            train_loss=train_loss,
            target_losses=target_losses.cpu(),
            predicted_drop=dots[:, 0],
            decay_drop=dots[:, 1],
            lr=float(optimizer.param_groups[0]["lr"]),
            clip_factor=clip,
            accounting=self.accounting,
        )

    def target_losses(self) -> torch.Tensor:
        """float64 [V]: each target's mean token loss at the current weights (no step taken)."""
        counts = predicted_counts(self.targets["labels"])
        with torch.no_grad(), eval_mode(self.model):
            return (row_loss_sums(self.model, self.targets) / counts).double()

    # One process runs every micro-batch. attribution_engine.distributed overrides these three
    # so that each rank runs its own micro-batches and the step still equals one process's.
    def _local_micro_batches(self, n: int) -> range:
        """Indices of the step's micro-batches that this process runs forward and backward."""
        return range(n)

    def _reduce_gradients(self) -> None:
        """Make param.grad the whole step's training gradient (before clipping)."""

    def _gather(self, values: torch.Tensor, train_loss: float) -> tuple[torch.Tensor, float]:
        """Values [B_local, V'] and loss share of this process -> those of the whole step."""
        return values, train_loss

    def _scales(self, clip: float) -> tuple[dict[nn.Parameter, Scale], dict]:
        if self.accounting is Accounting.ADAM:
            return adam_scales(self.optimizer, self._params, clip, self.config.preconditioner)
        lrs = [float(param_group(self.optimizer, p)["lr"]) for p in self._params]
        return sgd_scales(self._params, lrs, clip), {}


def _resolve_accounting(accounting: Accounting, optimizer: torch.optim.Optimizer) -> Accounting:
    try:
        return resolve_accounting(
            accounting, adam=isinstance(optimizer, torch.optim.Adam | torch.optim.AdamW)
        )
    except ValueError:
        raise AttributionInputError(
            f"Accounting.ADAM needs torch.optim.Adam or AdamW, got {type(optimizer).__name__}; "
            "use Accounting.SGD_PROXY"
        ) from None


def _trainable(model: nn.Module) -> list[nn.Parameter]:
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise AttributionInputError("the model has no trainable parameters to attribute")
    return params


def _check_targets_predict(targets: Rows) -> None:
    empty = (predicted_counts(targets["labels"]) == 0).nonzero().flatten().tolist()
    if empty:
        raise AttributionInputError(
            f"target rows {empty} have no label tokens to predict (all -100 after the causal "
            "shift); a target needs at least one labelled token after its first"
        )


def _validate(model: nn.Module, micro: list[Rows], targets: Rows) -> int:
    """Check every input before anything runs; returns N, the step's predicted-token count."""
    vocab = vocab_size_of(model)
    validate_rows(targets, "targets", vocab)
    _check_targets_predict(targets)
    if not micro:
        raise AttributionInputError("the step got no micro-batches")
    for k, rows in enumerate(micro):
        validate_rows(rows, "batch" if len(micro) == 1 else f"micro-batch {k}", vocab)
    n_total = sum(int(predicted_counts(rows["labels"]).sum()) for rows in micro)
    if n_total == 0:
        raise AttributionInputError(
            "the batch has no label tokens to predict (every label is -100 after the shift); "
            "nothing would be trained"
        )
    return n_total


def target_passes(
    model: nn.Module, capture: Capture, targets: Rows, chunks: list[tuple[int, int]]
) -> tuple[torch.Tensor, dict[nn.Parameter, list[Use]]]:
    """Target losses [V] and every parameter's uses over all V target rows, from one target
    pass per chunk of rows (budget.py sizes them), so one chunk's activations exist at a time."""
    losses, per_chunk = [], []
    for start, stop in chunks:
        rows = {key: value[start:stop] for key, value in targets.items()}
        chunk_losses, calls = target_pass(model, capture, rows, first=start)
        losses.append(chunk_losses)
        per_chunk.append(uses_by_parameter(calls))
    uses = {}
    for param in list(per_chunk[0]):
        if any(param not in chunk for chunk in per_chunk):
            raise UnsupportedModuleError(
                f"parameter '{capture.parameter_name(param)}' was used by some target chunks "
                "and not others; score these targets in one pass (target_memory_mib=None)"
            )
        # popped as joined: each parameter's chunk captures are freed once copied
        uses[param] = cat_uses([chunk.pop(param) for chunk in per_chunk])
    return torch.cat(losses), uses


def target_pass(model: nn.Module, capture: Capture, targets: Rows, first: int = 0):
    """Target losses [V] and the target rows' recorded calls, at the current weights.
    `first`: the index of these rows' first row among all targets (for NonFiniteError)."""
    counts = predicted_counts(targets["labels"])
    n_rows, n_tokens = targets["input_ids"].shape
    with eval_mode(model), capture.recording(n_rows, n_tokens) as calls:
        losses = row_loss_sums(model, targets) / counts
        bad = [first + i for i in (~torch.isfinite(losses)).nonzero().flatten().tolist()]
        if bad:
            raise NonFiniteError(f"target rows {bad} have a non-finite loss at these weights")
        if calls:
            capture.differentiate(losses.sum(), calls)  # hooks store each call's gradient
    return losses.detach().double(), calls


def _train_pass(
    model: nn.Module,
    capture: Capture,
    rows: Rows,
    n_total: int,
    label: str,
    first: int = 0,
    on_grad: Callable[[Call], None] | None = None,
):
    """Forward and ordinary backward of training rows; returns (their loss share, calls).
    `first`: the index of these rows' first row among the step's rows (for NonFiniteError).
    `on_grad`: scores each call inside the backward (Capture.recording), which then frees it."""
    shape = rows["input_ids"].shape
    with capture.recording(*shape, on_grad=on_grad, keep_outputs=False) as calls:
        sums = row_loss_sums(model, rows)
        bad = (~torch.isfinite(sums)).nonzero().flatten().tolist()
        if bad:
            raise NonFiniteError(
                f"{label} rows {bad} have a non-finite loss; nothing was applied",
                rows=tuple(first + i for i in bad),
            )
        loss = sums.sum() / n_total
        loss.backward()
    return float(loss.detach()), calls


def _check_finite_grads(params: list[nn.Parameter], capture: Capture) -> torch.Tensor:
    grads = [p.grad for p in params if p.grad is not None]
    norm = torch.nn.utils.get_total_norm(grads)
    if not torch.isfinite(norm):
        names = [capture.parameter_name(p) for p in params if p.grad is not None]
        bad = [n for n, g in zip(names, grads, strict=True) if not torch.isfinite(g).all()]
        raise NonFiniteError(f"non-finite gradients in {bad}; nothing was applied")
    return norm


def _values(
    capture: Capture,
    per_batch: list[list[Call]],
    target_uses: Mapping[nn.Parameter, list[Use]],
    n_targets: int,
    params: list[nn.Parameter],
    scales: Mapping[nn.Parameter, Scale],
    extra: Mapping[nn.Parameter, torch.Tensor] | None,
    strategy: Strategy,
) -> torch.Tensor:
    """float64 [B, V (+ V second-order columns)] over all micro-batches, rows in order."""
    n_columns = n_targets * (1 if extra is None else 2)
    blocks, seen = [], set()
    for calls in per_batch:
        train_uses = uses_by_parameter(calls)
        n_rows = calls[0].inputs[0].shape[0]  # rows first in every recorded call
        device = calls[0].inputs[0].device  # accumulate where the captures are (GPU or CPU)
        block = torch.zeros(n_rows, n_columns, dtype=torch.float64, device=device)
        with without_autocast(device):
            for p in params:
                mine = train_uses.get(p)
                if not mine:
                    continue
                seen.add(p)
                theirs = target_uses.get(p, [])
                more = None if extra is None else extra[p]
                if theirs or more is not None:
                    block += parameter_values(
                        mine, theirs, scales[p], p.shape, more, strategy, n_targets
                    )
        blocks.append(block)
    _check_scored(capture, params, seen)
    return torch.cat(blocks)


class _ValuesInHooks:
    """First-order values of the SGD proxy, formed inside the training backward: each call's
    rows against every target use of each parameter it uses, as soon as the call's output
    gradient arrives, after which the capture frees the call (Capture.recording's on_grad).

    Values are linear in a row's gradient, which sums over the parameter's uses, so a tied
    weight's training uses are scored one call at a time, each against all its target uses
    (cross terms included), by the same strategy code as `_values` (parameter_values), each
    use taking its own cheaper strategy. The scale's scalar is lr alone: the clip factor,
    known only after the backward, multiplies every value at the end.
    """

    def __init__(
        self,
        target_uses: Mapping[nn.Parameter, list[Use]],
        scales: Mapping[nn.Parameter, Scale],
        strategy: Strategy,
    ) -> None:
        self.target_uses, self.scales, self.strategy = target_uses, scales, strategy
        self.blocks: list[torch.Tensor] = []  # float64 [b, V] per micro-batch, rows in order
        self.seen: set[nn.Parameter] = set()

    def micro_batch(self, rows: Rows, n_targets: int) -> Callable[[Call], None]:
        """The on_grad of one micro-batch: adds each call's values to that batch's block."""
        ids = rows["input_ids"]  # accumulate where the rows are (GPU or CPU)
        block = torch.zeros(ids.shape[0], n_targets, dtype=torch.float64, device=ids.device)
        self.blocks.append(block)

        def score(call: Call) -> None:
            with without_autocast(block.device):
                for param, use in call_uses(call):
                    self.seen.add(param)
                    theirs = self.target_uses.get(param)
                    if theirs:
                        block.add_(
                            parameter_values(
                                [use],
                                theirs,
                                self.scales[param],
                                param.shape,
                                None,
                                self.strategy,
                                n_targets,
                            )
                        )

        return score


def _check_scored(capture: Capture, params: list[nn.Parameter], seen: set[nn.Parameter]) -> None:
    """Every parameter with a gradient was used by a scored call."""
    unseen = [p for p in params if p.grad is not None and p not in seen]
    if unseen:
        raise UnsupportedModuleError(
            f"parameters {[capture.parameter_name(p) for p in unseen]} received a gradient "
            "outside any scored module call (used functionally, e.g. F.linear(x, m.weight)?); "
            "call them through their module or register a rule"
        )


def _fold(values: torch.Tensor, n_targets: int, order: int):
    """(values [B, V] with the second-order part added, that part or None)."""
    if order == 1:
        return values, None
    second = values[:, n_targets:]
    return values[:, :n_targets] + second, second


def _target_dots(
    target_uses: Mapping[nn.Parameter, list[Use]],
    params: list[nn.Parameter],
    before: list[torch.Tensor | None],
    optimizer: torch.optim.Optimizer,
    n: int,
) -> torch.Tensor:
    """float64 [V, 2]: g_v . (w_before - w_after) and g_v . decay (0 where decay is not
    separable, decay_factor), from the target captures: each target's gradient formed
    once and dotted with both, or each token contracted with them, whichever costs less
    (costs.py). Both displacements are formed one parameter at a time (a whole copy of the
    weights each, at GPT-2-small width 0.5 GiB, had been held at once), in one [1|2, *shape]
    buffer (torch.stack of the two copied them once more: 0.6-1.1 s of a 29 s SGD-proxy step
    at GPT-2-small width under load). `before` is consumed: each parameter's copy is freed once
    its dots are formed, the largest parameter last, so that its buffers (GPT-2's tied
    embedding: 3 x 154 MiB) are not formed beside the copy of all the other weights."""
    out = torch.zeros(n, 2, dtype=torch.float64, device=params[0].device)
    with without_autocast(out.device):
        for i in sorted(range(len(params)), key=lambda k: params[k].numel()):
            p, w = params[i], before[i]
            before[i] = None
            uses = target_uses.get(p)
            if not uses or w is None:
                continue
            factor = decay_factor(optimizer, p)
            stacked = w.new_empty((1 if factor is None else 2, *p.shape))
            torch.sub(w, p.detach(), out=stacked[0])  # w_before - w_after
            if factor is not None:
                torch.mul(w, factor, out=stacked[1])  # the decay displacement
            del w
            dots = matrix_values(uses, stacked.to(uses[0].tensor.dtype), p.shape)  # [V, 1|2]
            del stacked
            out[:, : dots.shape[1]] += dots
    return out


def decay_factor(optimizer: torch.optim.Optimizer, param: nn.Parameter) -> float | None:
    """lr * weight_decay, the parameter's weight-decay displacement per unit of w_before, where
    the update rule applies it apart from the gradient: AdamW (decoupled) and SGD without
    momentum (whose L2 term is added to the gradient and moves w by exactly that). None where
    it has no decay, or where decay runs through momentum or Adam's moments (Adam's L2, SGD
    momentum): there it stays inside the optimizer's other terms."""
    group = param_group(optimizer, param)
    decay = float(group.get("weight_decay", 0.0))
    decoupled = isinstance(optimizer, torch.optim.AdamW) or group.get("decoupled_weight_decay")
    plain_sgd = isinstance(optimizer, torch.optim.SGD) and not group.get("momentum", 0.0)
    separable = decoupled or plain_sgd
    return float(group["lr"]) * decay if decay and separable else None
