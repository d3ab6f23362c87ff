"""A prepared run trained on several local processes under torchrun (gloo on CPU, nccl on GPU).

Rank 0 does what runs.execute does (results, model, summary, ledger commits); the other ranks
rebuild the same run and train along without writing. The attributor itself, the gradient
all-reduce and the gathering of values are the engine's (attribution_engine/distributed.py).

    provenance train --nproc 2 --accumulation 2 ...            # one machine, re-launched
    torchrun --standalone --nproc-per-node 2 -m provenance.torchrun RUN_DIR [--db URL]
"""

import argparse
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import torch.distributed as dist

from attribution_engine.distributed import distributed_loop, init_process_group
from attribution_engine.training import LoopResult


def execute(path: Path, db_url: str | None = None, progress: bool = True) -> LoopResult:
    """Run (or resume) the prepared run at `path` as this rank. Rank 0 does what
    runs.execute does (results, model, summary, ledger commits); the other ranks train along."""
    from provenance import runs

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
    from attribution_engine.training import make_optimizer
    from provenance.runs import load_run

    run = load_run(path)
    loop = distributed_loop()
    return loop(
        run.model,
        make_optimizer(run.model, run.recipe.config),
        run.rows,
        run.tokenizer.pad_token_id,
        run.targets,
        run.recipe.config,
        run.schedule,
        path / "checkpoints",
        progress=False,
    )


def launch(path: Path, *, nproc: int, db_url: str | None = None, progress: bool = True) -> None:
    """Run the prepared run at `path` on `nproc` local processes under torchrun; raises if any
    rank fails. The same as: torchrun --standalone --nproc-per-node N -m
    provenance.torchrun PATH, with the ledger URL in PROVENANCE_DB_URL."""
    from db.session import ENV_PASSWORD_FILE, ENV_URL
    from provenance.recipe import Recipe

    accumulation = Recipe.load(path).config.accumulation
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
    command += [f"--nproc-per-node={nproc}", "-m", "provenance.torchrun", str(path)]
    if not progress:
        command.append("--quiet")
    return command


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="torchrun ... -m provenance.torchrun",
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
