"""Temporary modes: evaluation (every submodule's own flag restored afterwards), and the engine's
own arithmetic kept out of a caller's autocast."""

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn


@contextmanager
def eval_mode(model: nn.Module) -> Iterator[None]:
    """Targets are scored without dropout; the training rows keep the model's own mode."""
    flags = [(module, module.training) for module in model.modules()]
    model.eval()
    try:
        yield
    finally:
        for module, training in flags:
            module.training = training


@contextmanager
def without_autocast(device: torch.device) -> Iterator[None]:
    """The dot products run in the captures' own precision (fp32 at least, fp64 accumulators)
    even when the caller's training step runs under torch.autocast (bf16 on GPUs)."""
    with torch.autocast(device.type, enabled=False):
        yield
