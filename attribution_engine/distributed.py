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

    provenance train --nproc 2 --accumulation 2 ...            # one machine, re-launched
    torchrun --standalone --nproc-per-node 2 -m attribution_engine.distributed RUN_DIR [--db URL]

Dimension legend: B rows of the step, b rows of this rank, V' value columns, P parameters.
"""

import argparse
import functools
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import torch
import torch.distributed as dist

from attribution_engine.errors import AttributionInputError
from attribution_engine.step import InRunAttributor
from attribution_engine.training import LoopResult, run_loop


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


def execute(path: Path, db_url: str | None = None, progress: bool = True) -> LoopResult:
    """Run (or resume) the prepared run at `path` as this rank. Rank 0 does what
    runs.execute does (results, model, summary, ledger commits); the other ranks train along."""
    from attribution_engine import runs

    rank, _ = init_process_group()
    if rank == 0:
        ledger = None
        if db_url is not None:
            from db.schema import open_ledger

            ledger = open_ledger(db_url)
        return runs.execute(path, progress=progress, ledger=ledger, loop=distributed_loop())
    return _follow(path)


def _follow(path: Path) -> LoopResult:
    """A non-zero rank: rebuild the run exactly as rank 0 does, then train without writing."""
    import json

    import numpy as np

    from attribution_engine import runs
    from attribution_engine.targets import TargetText
    from attribution_engine.training import TrainConfig, make_optimizer

    recipe = json.loads((path / "recipe.json").read_text())
    config = TrainConfig(**recipe["config"])
    torch.set_num_threads(config.threads)
    model, tokenizer = runs._rebuild(path, recipe)
    _, rows = runs._rows(path, recipe, tokenizer, config)
    targets = [TargetText(**t) for t in recipe["targets"]]
    batch = runs._target_batch(targets, recipe["reference"], tokenizer, config)
    schedule = np.load(path / "schedule.npy")
    loop = distributed_loop()
    return loop(
        model,
        make_optimizer(model, config),
        rows,
        tokenizer.pad_token_id,
        batch,
        config,
        schedule,
        path / "checkpoints",
        progress=False,
    )


def launch(path: Path, *, nproc: int, db_url: str | None = None, progress: bool = True) -> None:
    """Run the prepared run at `path` on `nproc` local processes under torchrun; raises if any
    rank fails. The same as: torchrun --standalone --nproc-per-node N -m
    attribution_engine.distributed PATH, with the ledger URL in PROVENANCE_DB_URL."""
    import json

    from db.session import ENV_PASSWORD_FILE, ENV_URL

    accumulation = json.loads((path / "recipe.json").read_text())["config"]["accumulation"]
    if nproc < 1 or accumulation % nproc:
        raise ValueError(
            f"{nproc} processes cannot share the {accumulation} micro-batch(es) of a step of run "
            f"{path.name} equally: --accumulation must be a multiple of --nproc (the global "
            f"batch stays batch_rows x accumulation rows). Run it with `provenance train "
            f"--resume {path.name}` and an --nproc that divides {accumulation}"
        )
    env = dict(os.environ)
    if db_url is not None:  # through the environment: a password never shows in `ps`
        env[ENV_URL] = db_url
        env.pop(ENV_PASSWORD_FILE, None)
    command = torchrun_command(path, nproc=nproc, progress=progress)
    done = subprocess.run(command, check=False, env=env)
    if done.returncode != 0:
        raise RuntimeError(
            f"torchrun exited with status {done.returncode}; the ranks' errors are printed "
            f"above. Resume with `provenance train --resume {path.name} --nproc {nproc}`"
        )


def torchrun_command(path: Path, *, nproc: int, progress: bool = True) -> list[str]:
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    command += [f"--nproc-per-node={nproc}", "-m", "attribution_engine.distributed", str(path)]
    if not progress:
        command.append("--quiet")
    return command


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="torchrun ... -m attribution_engine.distributed",
        description="one rank of a prepared run (runs/RUN_ID) trained under torchrun",
    )
    parser.add_argument("run_dir", type=Path)
    parser.add_argument(
        "--db", help="ledger URL that rank 0 writes to (default: PROVENANCE_DB_URL, if set)"
    )
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    db_url = args.db
    if db_url is None and os.environ.get("PROVENANCE_DB_URL"):
        from db.session import url_from_environment

        db_url = url_from_environment(os.environ, args.run_dir)
    try:
        execute(args.run_dir, db_url=db_url, progress=not args.quiet)
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


if __name__ == "__main__":
    main()
