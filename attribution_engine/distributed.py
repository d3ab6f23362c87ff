"""Attributed training on several processes with torch.distributed (torchrun; gloo on CPU, nccl
on GPU), giving the numbers of one process that runs the same global batches.

The recipe does not change: a step still has `accumulation` micro-batches of `batch_rows` rows,
and rank r runs micro-batches r*k .. r*k+k-1 (k = accumulation / world size). Each rank runs the
ordinary forward and backward of its own rows only; the training-row gradients (never target
rows: the target pass takes gradients of activations, not of parameters) are summed across ranks
with one all-reduce before clipping and the optimizer step, so every rank applies the same update
as one process. Each rank then scores its own rows against every target, and the values are
gathered to every rank in the step's row order; rank 0 alone writes checkpoints, results and the
ledger. Hand-written gradients that bypass the all-reduce (the public reference code's DDP path)
are what this avoids: autograd computes each rank's gradient as in plain training.

Launching a prepared run under torchrun is the application's (provenance/torchrun.py).

Dimension legend: B rows of the step, b rows of this rank, V' value columns, P parameters.
"""

import functools
import os

import torch
import torch.distributed as dist

from attribution_engine.errors import AttributionInputError
from attribution_engine.step import InRunAttributor
from attribution_engine.training import run_loop


class DistributedAttributor(InRunAttributor):
    """An InRunAttributor for one rank of the default process group (init it first).

    Every rank is given the whole step (all micro-batches; collating rows is cheap) so that the
    normaliser, the number of predicted tokens of the whole step, is the same as in one process.
    """

    def __init__(self, *args, **kwargs) -> None:
        if not dist.is_available() or not dist.is_initialized():
            raise RuntimeError(
                "DistributedAttributor needs torch.distributed initialised: launch with torchrun "
                "and call attribution_engine.distributed.init_process_group() first"
            )
        super().__init__(*args, **kwargs)
        self.rank, self.world = dist.get_rank(), dist.get_world_size()

    def _local_micro_batches(self, n: int) -> range:
        if n % self.world:
            raise AttributionInputError(
                f"a step has {n} micro-batch(es), which {self.world} processes cannot share "
                "equally; set --accumulation to a multiple of --nproc (the global batch is "
                "batch_rows x accumulation rows, as in one process)"
            )
        k = n // self.world
        return range(self.rank * k, (self.rank + 1) * k)

    def _reduce_gradients(self) -> None:
        """Sum param.grad over ranks with one flat all-reduce (float32 or the grads' dtype)."""
        params = self._params
        # A parameter unused by this rank's rows has no gradient here but may on another rank.
        flags = [p.grad is not None for p in params]
        present = torch.tensor(flags, dtype=torch.int32, device=params[0].device)
        dist.all_reduce(present, op=dist.ReduceOp.MAX)
        used = [p for p, flag in zip(params, present.tolist(), strict=True) if flag]
        for p in used:
            if p.grad is None:
                p.grad = torch.zeros_like(p)
        for dtype in sorted({p.grad.dtype for p in used}, key=str):
            group = [p for p in used if p.grad.dtype == dtype]
            flat = torch.cat([p.grad.reshape(-1) for p in group])  # [sum of numels]
            dist.all_reduce(flat, op=dist.ReduceOp.SUM)
            offset = 0
            for p in group:
                p.grad.copy_(flat[offset : offset + p.numel()].view_as(p.grad))
                offset += p.numel()

    def _gather(self, values: torch.Tensor, train_loss: float) -> tuple[torch.Tensor, float]:
        """Values [b, V'] of every rank -> [B, V'] in rank order (= the step's row order)."""
        device = values.device  # the backend for that device carries it (gloo CPU, nccl CUDA)
        sizes = [torch.zeros(1, dtype=torch.int64, device=device) for _ in range(self.world)]
        dist.all_gather(sizes, torch.tensor([values.shape[0]], device=device))
        most = int(max(int(s) for s in sizes))
        padded = torch.zeros(most, values.shape[1], dtype=values.dtype, device=device)
        padded[: values.shape[0]] = values
        blocks = [torch.empty_like(padded) for _ in range(self.world)]
        dist.all_gather(blocks, padded)
        gathered = torch.cat([b[: int(s)] for b, s in zip(blocks, sizes, strict=True)]).cpu()
        loss = torch.tensor([train_loss], dtype=torch.float64, device=device)
        dist.all_reduce(loss, op=dist.ReduceOp.SUM)
        return gathered, float(loss)


def init_process_group() -> tuple[int, int]:
    """Join torchrun's rendezvous (env://): gloo for CPU tensors, and nccl for CUDA tensors
    where CUDA is available (one GPU per rank). Returns (rank, world size)."""
    if not dist.is_initialized():
        backend = "gloo"
        if torch.cuda.is_available():
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
            backend = "cpu:gloo,cuda:nccl"  # each collective goes by its tensors' device
        dist.init_process_group(backend=backend)
    return dist.get_rank(), dist.get_world_size()


def distributed_loop():
    """run_loop for this rank: the distributed attributor; only rank 0 saves checkpoints."""
    return functools.partial(
        run_loop, attributor_class=DistributedAttributor, saves_checkpoints=dist.get_rank() == 0
    )
