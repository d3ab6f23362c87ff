"""Atomic checkpoints: everything a run needs to continue bit-exactly on CPU.

A checkpoint is written to a temporary file in the same directory, flushed to disk and renamed
over its final name, so a crash leaves either the previous checkpoint or the new one, never a
torn file. `latest` returns the newest checkpoint that loads; older ones beyond `keep` are
removed only after the new one is in place.
"""

import os
import pickle
import re
import tempfile
from pathlib import Path
from typing import Any

import torch

from attribution_engine import faults
from attribution_engine.errors import StorageError

NAME = re.compile(r"^step-(\d{8})\.pt$")


def write_atomic(payload: dict[str, Any], path: Path) -> None:
    """torch.save `payload` to `path` atomically (temp file + fsync + rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            faults.point("checkpoint.before_write")
            torch.save(payload, handle)
            handle.flush()
            os.fsync(handle.fileno())
        faults.point("checkpoint.after_temp_write")
        os.replace(tmp, path)
    except BaseException as err:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(err, OSError) and not isinstance(err, StorageError):
            raise StorageError(
                f"could not write checkpoint {path} ({err.strerror or err}); the previous "
                "checkpoint is intact. Free disk space or fix the device, then resume the run "
                "(`provenance train --resume RUN_ID`)"
            ) from err
        raise


def save(directory: Path, step: int, payload: dict[str, Any], keep: int = 2) -> Path:
    """Write the checkpoint of `step` (steps completed) and prune all but the newest `keep`."""
    path = directory / f"step-{step:08d}.pt"
    write_atomic(payload, path)
    faults.point("checkpoint.after_rename")
    for old in sorted(_checkpoints(directory))[:-keep]:
        old[1].unlink(missing_ok=True)
    # Temp files of a writer killed before its rename: never loaded, removed here (one run has
    # one writer, so none of them is being written now).
    for stray in directory.glob(".step-*.pt.*.tmp"):
        stray.unlink(missing_ok=True)
    return path


def latest(directory: Path) -> tuple[int, dict[str, Any]] | None:
    """(steps completed, payload) of the newest loadable checkpoint, or None.

    Loaded with `weights_only=True`: a checkpoint holds tensors, numbers and lists only, so a
    file that needs any other object to unpickle (one planted in a run folder to run code on
    the worker) is refused with ValueError instead of executed.
    """
    for step, path in sorted(_checkpoints(directory), reverse=True):
        try:
            return step, torch.load(path, map_location="cpu", weights_only=True)
        except pickle.UnpicklingError as err:
            raise ValueError(
                f"checkpoint {path} holds objects other than tensors and numbers, which a run "
                f"never writes; it was not loaded ({str(err).splitlines()[0][:200]}). Delete it "
                "if you did not put it there, then resume the run"
            ) from None
        except (EOFError, RuntimeError, OSError):
            continue  # unreadable: fall back to the one before
    return None


def _checkpoints(directory: Path) -> list[tuple[int, Path]]:
    if not directory.is_dir():
        return []
    found = [(NAME.match(p.name), p) for p in directory.iterdir()]
    return [(int(match.group(1)), p) for match, p in found if match]
