"""How much memory the targets of a step take, and the chunks their passes run in, so that a
limit is kept, or a request that cannot keep it is refused, before anything runs.

Per target token the capture keeps, for every hooked call, the call's input and its output
gradient (a Linear's d_in + d_out values, an embedding's d_out and its id) until the step's
values and efficiency check are formed: `kept_widths`. While a target pass runs, autograd
holds about as much again (the forward's saved activations), and the logits with their
log-softmax and gradient (3 x vocabulary values per token): `pass_widths`. These are estimates
from the parameter shapes (benchmarks/overhead.py prints them beside measured peaks).
Dimension legend: V targets, T' tokens per target row.
"""

from dataclasses import dataclass

from torch import nn

from attribution_engine.errors import AttributionInputError


def call_width(module: nn.Module) -> int:
    """Values one recorded call of `module` keeps per token: its input and output gradient.

    A weight [..., r, c] is read by d_in + d_out = r + c values per token (Linear, Conv1D, an
    expert slice); an embedding keeps its d_out gradient and one id; a module with only
    per-feature vectors (a norm) its input and output gradient, twice the vector's length."""
    own = [p for p in module.parameters(recurse=False) if p.requires_grad]
    if isinstance(module, nn.Embedding):
        return int(module.weight.shape[-1]) + 1
    matrices = [p for p in own if p.dim() >= 2]
    if matrices:
        return max(int(p.shape[-2] + p.shape[-1]) for p in matrices)
    return 2 * max((p.numel() for p in own), default=0)


@dataclass(frozen=True)
class TargetMemory:
    """Bytes one target row costs during a step, from its token count and the hooked modules."""

    kept: int  # kept by its captures from its pass until the step's values are formed
    passing: int  # added while its own target pass runs (activations, logits), then freed

    @classmethod
    def estimate(
        cls, modules: list[nn.Module], vocab: int, tokens: int, bytes_per_value: int
    ) -> "TargetMemory":
        kept_widths = sum(call_width(m) for m in modules)
        pass_widths = kept_widths + 3 * vocab
        return cls(
            kept=kept_widths * tokens * bytes_per_value,
            passing=pass_widths * tokens * bytes_per_value,
        )

    def fitting(self, limit_bytes: float) -> int:
        """The most targets whose captures, plus one target's pass, stay within the limit."""
        return max(0, int((limit_bytes - self.passing) // max(1, self.kept)))

    def chunks(self, n_targets: int, limit_bytes: float | None) -> list[tuple[int, int]]:
        """Target ranges run as one pass each: all targets' captures plus one chunk's pass stay
        within `limit_bytes` (None: no limit, one pass). Refuses, with the number that fits, a
        request whose captures alone would not fit, before anything runs."""
        if limit_bytes is None:
            return [(0, n_targets)]
        room = limit_bytes - n_targets * self.kept
        if room < self.passing:
            mib = 2**20
            raise AttributionInputError(
                f"{n_targets} targets need about {n_targets * self.kept / mib:.0f} MiB for their "
                f"captures ({self.kept / mib:.1f} MiB each) plus {self.passing / mib:.1f} MiB "
                f"for a target pass, over the limit of {limit_bytes / mib:.0f} MiB "
                f"(AttributionConfig.target_memory_mib): {self.fitting(limit_bytes)} fit. Score "
                "the targets in several replays of at most that many, shorten them, or raise "
                "the limit"
            )
        step = max(1, int(room // self.passing))
        return [(start, min(n_targets, start + step)) for start in range(0, n_targets, step)]
