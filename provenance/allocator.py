"""Run the training commands on jemalloc that keeps freed pages, where the machine has it.

An attributed step allocates and frees many large tensors (target matrices, per-row gradients,
the efficiency check's displacements; up to 154 MiB each at GPT-2-small width). glibc serves
every block above 32 MiB (its largest mmap threshold) with a fresh mmap and returns it on free,
so the kernel zeroes those pages again at every step: measured at GPT-2-small width with 8
targets, 5-6 s of a 24-26 s step was kernel time (docs/cost.md, "The allocator"). jemalloc with
page decay off reuses them: the same step took 17.5-18.6 s, and the plain step 9.9 s against
10.4-11.7 s. The price: the process keeps its peak memory until it exits.

Only the process start can choose the allocator, so `provenance train`, `attribute`, `worker`
and `demo` re-execute themselves once with it preloaded (`reexec_with_jemalloc`).
PROVENANCE_ALLOCATOR=system keeps glibc's; without libjemalloc (Debian: libjemalloc2) the
command runs as it is.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

# Debian and Ubuntu (libjemalloc2), Fedora and Arch (jemalloc) paths.
LIBRARY_PATHS = (
    "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2",
    "/usr/lib/aarch64-linux-gnu/libjemalloc.so.2",
    "/usr/lib64/libjemalloc.so.2",
    "/usr/lib/libjemalloc.so.2",
)
# Freed pages stay with the process (no decay back to the kernel): with any decay, even 30 s,
# the step above measured as slow as glibc.
MALLOC_CONF = "dirty_decay_ms:-1,muzzy_decay_ms:-1"
SWITCH = "PROVENANCE_ALLOCATOR"  # "system": keep glibc's allocator


def jemalloc_library() -> str | None:
    """The first libjemalloc found on this machine, or None."""
    return next((path for path in LIBRARY_PATHS if Path(path).is_file()), None)


def jemalloc_environment(environ: Mapping[str, str], library: str | None) -> dict[str, str] | None:
    """The environment to re-execute with, or None where this process should run as it is:
    no library, PROVENANCE_ALLOCATOR=system, or jemalloc already preloaded (so a re-executed
    process never does it again)."""
    preload = environ.get("LD_PRELOAD", "")
    preloaded = library in preload.split() or "jemalloc" in preload
    if library is None or environ.get(SWITCH) == "system" or preloaded:
        return None
    out = dict(environ)
    out["LD_PRELOAD"] = f"{library} {preload}".strip()
    out["MALLOC_CONF"] = ",".join(
        part for part in (MALLOC_CONF, environ.get("MALLOC_CONF")) if part
    )
    return out


def reexec_with_jemalloc() -> None:
    """Replace this process by itself with jemalloc preloaded, where `jemalloc_environment`
    says so; returns only where it does not. Call it before any work, with nothing to lose."""
    environment = jemalloc_environment(os.environ, jemalloc_library())
    if environment is None:
        return
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, [sys.executable, *sys.orig_argv[1:]], environment)


def using_jemalloc() -> bool:
    """Whether this process runs on jemalloc (its library is mapped)."""
    return "libjemalloc" in Path("/proc/self/maps").read_text()
