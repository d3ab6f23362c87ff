"""The training commands run on jemalloc with page decay off where the machine has it
(provenance/allocator.py): the environment they re-execute with, that a command process really
ends up on it, that PROVENANCE_ALLOCATOR=system keeps glibc's, and that a call of `main` from
Python (tests, the UI) never replaces its process."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from provenance import allocator, cli

ROOT = Path(__file__).resolve().parents[2]
LIBRARY = allocator.jemalloc_library()
needs_jemalloc = pytest.mark.skipif(
    LIBRARY is None and os.environ.get("CI") != "true",
    reason="libjemalloc2 not installed (CI installs it: .ci/install-browser)",
)


def test_the_environment_preloads_jemalloc_once_and_keeps_what_was_set():
    env = allocator.jemalloc_environment({"LD_PRELOAD": "/x/libfoo.so", "A": "1"}, "/l/je.so")
    assert env["LD_PRELOAD"] == "/l/je.so /x/libfoo.so" and env["A"] == "1"
    assert env["MALLOC_CONF"] == allocator.MALLOC_CONF
    mine = allocator.jemalloc_environment({"MALLOC_CONF": "narenas:2"}, "/l/je.so")
    assert mine["MALLOC_CONF"] == f"{allocator.MALLOC_CONF},narenas:2"  # the user's last: wins
    assert allocator.jemalloc_environment(env, "/l/je.so") is None  # already on it: no loop
    assert allocator.jemalloc_environment({}, None) is None  # no library: run as it is
    assert allocator.jemalloc_environment({allocator.SWITCH: "system"}, "/l/je.so") is None


def _worker_allocator(tmp_path: Path, **env: str) -> str:
    """Run `provenance worker --once` as a user would and report what its final process ran
    on (a sitecustomize records it at exit, in whichever process the command ended up)."""
    probe = tmp_path / "probe"
    probe.mkdir()
    (probe / "sitecustomize.py").write_text(
        textwrap.dedent(f"""
        import atexit
        from pathlib import Path

        def _record():
            maps = Path("/proc/self/maps").read_text()
            Path({str(tmp_path / "allocator.txt")!r}).write_text(
                "jemalloc" if "libjemalloc" in maps else "system"
            )

        atexit.register(_record)
        """)
    )
    environment = {**os.environ, "PYTHONPATH": f"{probe}:{ROOT}"}
    for name in ("LD_PRELOAD", allocator.SWITCH):
        environment.pop(name, None)
    environment.update(env)
    command = [sys.executable, "-m", "provenance.cli", "worker", "--once"]
    command += ["--out", str(tmp_path / "data"), "--db", f"sqlite:///{tmp_path / 'l.sqlite3'}"]
    done = subprocess.run(command, env=environment, capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    return (tmp_path / "allocator.txt").read_text()


@needs_jemalloc
def test_a_training_command_runs_on_jemalloc(tmp_path):
    assert _worker_allocator(tmp_path) == "jemalloc"


def test_provenance_allocator_system_keeps_glibc(tmp_path):
    assert _worker_allocator(tmp_path, **{allocator.SWITCH: "system"}) == "system"


def test_main_called_from_python_never_replaces_its_process(monkeypatch, tmp_path):
    calls = []
    monkeypatch.setattr(allocator, "reexec_with_jemalloc", lambda: calls.append("exec"))
    monkeypatch.setattr(allocator, "jemalloc_library", lambda: pytest.fail("looked up"))
    out, db = str(tmp_path / "data"), f"sqlite:///{tmp_path / 'l.sqlite3'}"
    cli.main(["worker", "--once", "--out", out, "--db", db])
    assert calls == []
    monkeypatch.setattr(sys, "argv", ["provenance", "worker", "--once", "--out", out, "--db", db])
    cli.main()  # as the console script calls it
    assert calls == ["exec"]
    monkeypatch.setattr(sys, "argv", ["provenance", "top", "--help"])
    with pytest.raises(SystemExit):
        cli.main()  # a query command: never re-executed
    assert calls == ["exec"]
