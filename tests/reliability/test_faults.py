"""Faults during a run: SIGKILL at named points (inside a checkpoint write, inside a ledger
commit, between steps), disk-full and I/O errors during checkpoint and ledger writes.

After every kill: every checkpoint on disk loads and `checkpoint.latest` is the newest; the
ledger sits at a commit point no later than the newest checkpoint, with exactly the visits and
efficiency rows of its committed steps. After the last resume: per-visit values, per-step
series and final weights are bit-identical to an uninterrupted run, and the ledger's value
tables equal the uninterrupted run's row for row. Fault points: attribution_engine/faults.py.
"""

from __future__ import annotations

import random
import signal

import pytest
from reliability_helpers import (
    EVERY,
    FULL_EVERY,
    FULL_STEPS,
    STEPS,
    assert_same_as_reference,
    check_ledger,
    checkpoint_steps,
    full,
    only_run,
    reference_run,
    run_cli,
    run_state,
    train_args,
)

from attribution_engine import faults
from attribution_engine.errors import StorageError


def kill_plan(seed: int, kills: int, every: int) -> list[str]:
    """`kills` fault specs at seeded random points and hits, always one inside a checkpoint
    write and one inside a ledger commit. A process advances at most 2 checkpoints before its
    kill (a resumed process first redoes the commit of its checkpoint: one more ledger hit),
    so every process of a run with 2 * `kills` checkpoints dies before the run ends."""
    rng = random.Random(seed)
    names = ["checkpoint.after_temp_write", "ledger.before_commit"]
    names += [rng.choice(sorted(faults.POINTS)) for _ in range(kills - 2)]
    rng.shuffle(names)
    highest = {"training": 2 * every, "checkpoint": 2, "ledger": 3}
    return [f"{n}@{rng.randint(1, highest[n.split('.')[0]])}=kill" for n in names]


def kill_and_resume(corpus, targets, out, url, plan, steps, every):
    """Run, killed once per spec of `plan` (each resumed), then resumed to the end."""
    run_id, seen = None, []
    for spec in plan:
        if run_id is None:
            args = train_args(corpus, targets, out, url, steps, every)
        else:
            args = ["train", "--resume", run_id, "--out", str(out), "--quiet", "--db", url]
        done = run_cli(args, env={faults.ENV: spec})
        assert done.returncode == -signal.SIGKILL, f"{spec}: rc {done.returncode} {done.stderr}"
        run_id = only_run(out)
        assert not (out / "runs" / run_id / "summary.json").exists()
        newest = max(checkpoint_steps(out / "runs" / run_id / "checkpoints"), default=0)
        committed = check_ledger(url, run_id, steps, every)
        assert committed <= newest, f"{spec}: the ledger ran ahead of the checkpoints"
        seen.append((spec, newest, committed))
    done = run_cli(["train", "--resume", run_id, "--out", str(out), "--quiet", "--db", url])
    assert done.returncode == 0, done.stderr[-3000:]
    return run_id, seen


def test_kill_inside_a_ledger_commit_then_resume_is_bit_identical(
    reference, corpus_file, targets_file, tmp_path
):
    url = f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
    plan = ["ledger.before_commit@2=kill", "checkpoint.after_temp_write@1=kill"]
    run_id, seen = kill_and_resume(corpus_file, targets_file, tmp_path, url, plan, STEPS, EVERY)
    # Killed in the 2nd commit: checkpoint 4 on disk, ledger rolled back to 2. Resumed at 4
    # (redoing the lost commit of step 4 first), killed between the temp write and the rename
    # of checkpoint 6: "latest" is still 4.
    assert [(newest, committed) for _, newest, committed in seen] == [(4, 2), (4, 4)]
    assert_same_as_reference(reference, tmp_path, run_id, url, STEPS)


@full
@pytest.mark.parametrize("seed", [1, 2])
def test_six_seeded_kills_then_resume_is_bit_identical(
    full_reference, corpus_file, targets_file, any_url, tmp_path, seed
):
    plan = kill_plan(seed, 6, FULL_EVERY)
    run_id, seen = kill_and_resume(
        corpus_file, targets_file, tmp_path, any_url, plan, FULL_STEPS, FULL_EVERY
    )
    print(f"\nseed {seed}: (fault, newest checkpoint, committed step) after each kill: {seen}")
    assert_same_as_reference(full_reference, tmp_path, run_id, any_url, FULL_STEPS)


# (spec, checkpoints left, committed step): checkpoints are kept 2 at a time, every 2 steps.
FULL_ONLY = [pytest.mark.slow, pytest.mark.reliability_full]
IN_PROCESS = [
    ("checkpoint.after_temp_write@3=enospc", [2, 4], 4),
    pytest.param("checkpoint.before_write@2=eio", [2], 2, marks=FULL_ONLY),
    ("ledger.before_commit@3=enospc", [4, 6], 4),
    pytest.param("ledger.before_writes@2=eio", [2, 4], 2, marks=FULL_ONLY),
]


@pytest.mark.parametrize(("spec", "checkpoints", "committed"), IN_PROCESS)
def test_failed_write_stops_cleanly_and_leaves_the_previous_state(
    reference, corpus_file, targets_file, tmp_path, monkeypatch, spec, checkpoints, committed
):
    from db.schema import open_ledger
    from provenance import runs

    url = f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
    faults.reset()
    monkeypatch.setenv(faults.ENV, spec)
    kind = "checkpoint" if spec.startswith("checkpoint") else "ledger commit"
    with pytest.raises(StorageError, match=f"{kind}.*(No space left|Input/output error)") as err:
        reference_run(corpus_file, targets_file, tmp_path, url)
    message = str(err.value)
    assert "intact" in message or "rolled back" in message
    assert "provenance train --resume" in message
    run_id = only_run(tmp_path)
    path = tmp_path / "runs" / run_id
    assert checkpoint_steps(path / "checkpoints") == checkpoints
    assert [p.name for p in (path / "checkpoints").iterdir() if p.name.startswith(".")] == []
    assert check_ledger(url, run_id, STEPS, EVERY) == committed
    monkeypatch.delenv(faults.ENV)
    runs.execute(path, progress=False, ledger=open_ledger(url))
    assert_same_as_reference(reference, tmp_path, run_id, url, STEPS)


def test_disk_full_through_the_cli_exits_non_zero_with_the_reason(
    corpus_file, targets_file, tmp_path
):
    url = f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
    args = train_args(corpus_file, targets_file, tmp_path, url)
    done = run_cli(args, env={faults.ENV: "checkpoint.after_temp_write@2=enospc"})
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert "Traceback" not in done.stderr
    assert (
        last.startswith("provenance train: could not write checkpoint") and "No space left" in last
    )
    run_id = only_run(tmp_path)
    assert checkpoint_steps(tmp_path / "runs" / run_id / "checkpoints") == [2]
    assert run_state(url, run_id)[0] == 2


@full
def test_ledger_disk_full_through_the_cli_then_resume(
    full_reference, corpus_file, targets_file, any_url, tmp_path
):
    args = train_args(corpus_file, targets_file, tmp_path, any_url, FULL_STEPS, FULL_EVERY)
    done = run_cli(args, env={faults.ENV: "ledger.before_commit@2=enospc"})
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("provenance train: ledger commit of step 6") and "rolled back" in last
    run_id = only_run(tmp_path)
    assert check_ledger(any_url, run_id, FULL_STEPS, FULL_EVERY) == 3
    resume = ["train", "--resume", run_id, "--out", str(tmp_path), "--quiet", "--db", any_url]
    assert run_cli(resume).returncode == 0
    assert_same_as_reference(full_reference, tmp_path, run_id, any_url, FULL_STEPS)
