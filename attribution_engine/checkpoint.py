"""Atomic checkpoints: everything a run needs to continue bit-exactly on CPU.

A checkpoint is written to a temporary file in the same directory, flushed to disk and renamed
over its final name, so a crash leaves either the previous checkpoint or the new one, never a
torn file. `latest` returns the newest checkpoint that loads; older ones beyond `keep` are
removed only after the new one is in place.
"""

import os
import re
import tempfile
from pathlib import Path
from typing import Any

import torch

NAME = re.compile(r"^step-(\d{8})\.pt$")


def write_atomic(payload: dict[str, Any], path: Path) -> None:
    """torch.save `payload` to `path` atomically (temp file + fsync + rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            torch.save(payload, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save(directory: Path, step: int, payload: dict[str, Any], keep: int = 2) -> Path:
    """Write the checkpoint of `step` (steps completed) and prune all but the newest `keep`."""
    path = directory / f"step-{step:08d}.pt"
    write_atomic(payload, path)
    for old in sorted(_checkpoints(directory))[:-keep]:
        old[1].unlink(missing_ok=True)
    return path


def latest(directory: Path) -> tuple[int, dict[str, Any]] | None:
    """(steps completed, payload) of the newest loadable checkpoint, or None."""
    for step, path in sorted(_checkpoints(directory), reverse=True):
        try:
            return step, torch.load(path, map_location="cpu", weights_only=False)
        except (EOFError, RuntimeError, OSError):
            continue  # unreadable: fall back to the one before
    return None


def _checkpoints(directory: Path) -> list[tuple[int, Path]]:
    if not directory.is_dir():
        return []
    found = [(NAME.match(p.name), p) for p in directory.iterdir()]
    return [(int(match.group(1)), p) for match, p in found if match]
