"""Options of the attribution engine: frozen, typed, one reason beside each default."""

from dataclasses import dataclass
from enum import Enum


class Strategy(Enum):
    """How a parameter's per-sample dot products are formed (DESIGN 3)."""

    AUTO = "auto"  # cheapest by the named cost functions in ghost/costs.py, chosen per call
    GRAM = "gram"  # token-pair Gram matrices of the captured factors, (a)
    PER_SAMPLE = "per_sample"  # materialise every row's gradient, (b)
    TARGET = "target"  # materialise each target's gradient, dot every training token, (c)


class Accounting(Enum):
    """Which update a training row is credited with (DESIGN 2.4)."""

    AUTO = "auto"  # ADAM under torch.optim.Adam/AdamW, SGD_PROXY otherwise
    SGD_PROXY = "sgd_proxy"  # the paper's lr * c * g_i, whatever the optimizer did
    ADAM = "adam"  # lr * c * g_i / (sqrt(v_hat) + eps), the step's state held fixed


def resolve_accounting(accounting: Accounting, *, adam: bool) -> Accounting:
    """The accounting a step actually uses: AUTO becomes ADAM under Adam/AdamW (`adam`), else
    SGD_PROXY. ADAM under another optimizer raises ValueError (no Adam state to hold fixed)."""
    if accounting is Accounting.AUTO:
        return Accounting.ADAM if adam else Accounting.SGD_PROXY
    if accounting is Accounting.ADAM and not adam:
        raise ValueError(
            "Adam-aware accounting needs torch.optim.Adam or AdamW (the adamw optimizer); "
            "use the SGD proxy (accounting sgd_proxy) or auto"
        )
    return accounting


class Preconditioner(Enum):
    """How Adam's per-coordinate scale enters the dot products."""

    EXACT = "exact"  # elementwise 1/(sqrt(v_hat)+eps); needs materialised gradients
    FACTORED = "factored"  # rank-1 row x column scale (Adafactor's factoring); keeps Gram


@dataclass(frozen=True)
class AttributionConfig:
    """Built once (CLI, file, UI form) and passed down; nothing deeper reads globals."""

    # First order is the product default: the second-order term moved values by ~0.1% (median)
    # at 2-3x the cost in the design's measurement (DESIGN 2.2).
    order: int = 1
    # Adam-aware under Adam ranked planted sources far better than the SGD proxy (DESIGN 2.4).
    accounting: Accounting = Accounting.AUTO
    # Exact is what the math defines; FACTORED is an opt-in speed trade, measured by
    # benchmarks/factored_vs_exact.py (attribution_engine/README.md).
    preconditioner: Preconditioner = Preconditioner.EXACT
    # Sequence lengths change between calls, so the cheapest strategy is chosen per call.
    strategy: Strategy = Strategy.AUTO
    # None: no clipping. Values are multiplied by the clip factor c_t when set (DESIGN 2.3).
    max_grad_norm: float | None = None
    # Memory the targets may take (attribution_engine/budget.py): their captures, kept through
    # the step, plus one target pass; passes run in chunks that keep it, and more targets than
    # fit are refused before anything runs, naming how many fit. 4 GiB holds 68 targets of 64
    # tokens at GPT-2-small width (58 MiB of captures each; 64 run in passes of 3) and never
    # binds for the tiny models. None: no limit, all targets in one pass.
    target_memory_mib: float | None = 4096.0

    def __post_init__(self) -> None:
        if self.order not in (1, 2):
            raise ValueError(f"order must be 1 or 2, got {self.order!r}")
        if self.max_grad_norm is not None and not self.max_grad_norm > 0:
            raise ValueError(f"max_grad_norm must be positive or None, got {self.max_grad_norm!r}")
        if self.target_memory_mib is not None and not self.target_memory_mib > 0:
            raise ValueError(
                f"target_memory_mib must be positive or None, got {self.target_memory_mib!r}"
            )
