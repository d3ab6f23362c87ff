"""A training run commits to the ledger: the ledger's ranking equals the run files', every step
is committed, and a process killed at random points (inside commits too) resumes to the same
final ledger as an uninterrupted run."""

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from synthetic import train_args, write_corpus

from attribution_engine.document_values import document_values
from db.catalog import find_run, get_run
from db.models import RunStatus
from db.rankings import efficiency_check, top_documents, trajectories
from db.session import make_engine, make_sessionmaker, session_scope
from db.values import read_visits
from provenance.recipe import Recipe
from provenance.windows import window_values


def cli(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "provenance.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finished(*args: str, whole: bool = False) -> str:
    """Run the CLI to completion: its last stdout line, or all of stdout when `whole`."""
    process = cli(*args)
    out, err = process.communicate(timeout=300)
    assert process.returncode == 0, err[-3000:]
    return out if whole else out.strip().splitlines()[-1]


def newest_checkpoint(out: Path) -> int:
    steps = [int(p.stem.split("-")[1]) for p in out.glob("runs/*/checkpoints/step-*.pt")]
    return max(steps, default=0)


def ledger_state(url: str, run_key: str):
    """(committed step, status, final hash, top frame, visits of 'copy'), or None if unknown."""
    factory = make_sessionmaker(make_engine(url))
    with session_scope(factory) as session:
        run = find_run(session, run_key)
        if run is None:
            return None
        top = top_documents(session, run_key, "copy", 60)
        visits = read_visits(session, run_key, "copy")
        return run.committed_step, run.status, run.final_weights_sha256, top, visits


def file_values(path: Path, target: str) -> tuple[list[str], np.ndarray]:
    """(document ids, specific values) of one target, from the run's own result files."""
    recipe = Recipe.load(path)
    results = np.load(path / "results.npz")
    row_docs = json.loads((path / "rows.json").read_text())
    doc_ids, _, specific = document_values(
        row_docs,
        results["visit_row"],
        results["visit_values"],
        len(recipe.targets),
        recipe.reference.own_columns,
    )
    return doc_ids, specific[:, [t.id for t in recipe.targets].index(target)]


def test_run_commits_to_the_ledger_and_matches_the_files(empty_url, tmp_path):
    corpus = tmp_path / "corpus.jsonl"
    docs = write_corpus(corpus)
    targets = tmp_path / "targets.jsonl"
    targets.write_text(json.dumps({"id": "copy", "text": docs[4]["text"]}) + "\n")
    out = tmp_path / "out"
    run_id = finished(*train_args(corpus, out, "--targets", str(targets), "--db", empty_url))
    step, status, final_hash, top, visits = ledger_state(empty_url, run_id)
    summary = json.loads((out / "runs" / run_id / "summary.json").read_text())
    assert (step, status, final_hash) == (30, RunStatus.DONE, summary["final_weights_sha256"])
    assert [v.step for v in visits] == list(range(30))
    doc_ids, specific = file_values(out / "runs" / run_id, "copy")
    order = np.argsort(-specific, kind="stable")[:60]
    assert top["doc_key"].tolist() == [doc_ids[i] for i in order]
    assert top["value"].tolist() == specific[order].tolist()  # exact float64 round trip
    assert top["doc_key"].iloc[0] == "doc-004"
    factory = make_sessionmaker(make_engine(empty_url))
    with session_scope(factory) as session:
        points = trajectories(session, run_id, "copy")
    final = points[points["step"] == 30].sort_values("value", ascending=False)
    assert sorted(set(points["step"])) == list(range(5, 31, 5))
    assert final["doc_key"].tolist() == top["doc_key"].tolist()[:20]
    assert final["value"].tolist() == top["value"].tolist()[:20]
    # The whole run as a step window gives the committed values (exact sums vs numpy's).
    with session_scope(factory) as session:
        window = window_values(session, run_id, "copy", 0, 29).set_index("doc_key")
    for row in top.itertuples():
        assert window.loc[row.doc_key, "specific"] == pytest.approx(row.value, rel=1e-12, abs=1e-18)
    # AdamW with weight decay: the efficiency check's terms are all measured, and add up.
    with session_scope(factory) as session:
        check = efficiency_check(session, run_id, "copy")
    assert check.steps == 29 and check.decay_drop is not None and check.decay_drop != 0
    total = check.values_sum + check.optimizer_terms + check.decay_drop
    assert total == pytest.approx(check.predicted_drop, rel=1e-12)
    shown = json.loads(
        finished(
            "top",
            "--run",
            run_id,
            "--target",
            "copy",
            "--json",
            "-k",
            "5",
            "--by",
            "specific",
            "--out",
            str(out),
            "--db",
            empty_url,
            "--quiet",
            whole=True,
        )
    )
    assert [r["doc_id"] for r in shown] == top["doc_key"].tolist()[:5]
    assert [r["value"] for r in shown] == top["value"].tolist()[:5]
    # The whole run as a window of steps, from the command line: the same ranking and values.
    windowed = json.loads(
        finished(
            *("top", "--run", run_id, "--target", "copy", "--json", "-k", "5", "--steps", "0:29"),
            *("--out", str(out), "--db", empty_url, "--quiet"),
            whole=True,
        )
    )
    assert [r["doc_id"] for r in windowed] == top["doc_key"].tolist()[:5]
    assert [r["value"] for r in windowed] == pytest.approx(top["value"].tolist()[:5], rel=1e-12)


def test_killed_writer_resumes_to_the_same_ledger(empty_url, tmp_path):
    corpus = tmp_path / "corpus.jsonl"
    docs = write_corpus(corpus)
    targets = tmp_path / "targets.jsonl"
    targets.write_text(json.dumps({"id": "copy", "text": docs[9]["text"]}) + "\n")
    longer = ("--targets", str(targets), "--steps", "120")
    whole_url = f"sqlite:///{tmp_path / 'whole.sqlite3'}"
    reference = finished(*train_args(corpus, tmp_path / "whole", *longer, "--db", whole_url))
    out = tmp_path / "broken"
    run_id = None
    rng = random.Random(7)
    for threshold in (10, 45, 80):  # kill after these checkpoints, at a random moment after
        if run_id is None:
            process = cli(*train_args(corpus, out, *longer, "--db", empty_url))
        else:
            process = cli(
                "train", "--resume", run_id, "--out", str(out), "--quiet", "--db", empty_url
            )
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and process.poll() is None:
            if newest_checkpoint(out) >= threshold:
                time.sleep(rng.uniform(0.0, 0.3))  # inside a step, a checkpoint or a commit
                break
            time.sleep(0.01)
        process.send_signal(signal.SIGKILL)
        process.wait()
        assert process.returncode == -signal.SIGKILL, "the run ended before it was killed"
        run_id = next((out / "runs").iterdir()).name
        state = ledger_state(empty_url, run_id)
        # The ledger is only ever at a commit point, never ahead of the newest checkpoint.
        assert state is not None and state[0] % 5 == 0 and state[0] <= newest_checkpoint(out)
    assert run_id is not None, "no run was created before the kills"
    finished("train", "--resume", run_id, "--out", str(out), "--quiet", "--db", empty_url)
    first, second = ledger_state(whole_url, reference), ledger_state(empty_url, run_id)
    assert second[:3] == (120, RunStatus.DONE, first[2])
    columns = ["doc_key", "value", "raw_value"]
    assert second[3][columns].equals(first[3][columns])
    assert [v.values.tolist() for v in second[4]] == [v.values.tolist() for v in first[4]]


def test_worker_runs_a_queued_job_and_reports_progress(empty_url, tmp_path):
    from attribution_engine.train_config import TrainConfig
    from db.jobs import job_status
    from db.models import JobStatus
    from db.schema import upgrade
    from provenance.jobs.payloads import TrainJob
    from provenance.jobs.queue import enqueue

    out = tmp_path / "out"
    (out / "corpora").mkdir(parents=True)  # the worker reads corpora from its corpus folder
    write_corpus(out / "corpora" / "corpus.jsonl")
    upgrade(make_engine(empty_url))
    factory = make_sessionmaker(make_engine(empty_url), write=True)
    config = TrainConfig(steps=10, batch_rows=8, checkpoint_every=5)
    job_id = enqueue(factory, TrainJob(Path("corpus.jsonl"), config))
    last = finished("worker", "--once", "--db", empty_url, "--out", str(out), "--quiet")
    assert last.endswith("1 job(s) finished")
    with session_scope(factory) as session:
        info = job_status(session, job_id)
    assert info.status is JobStatus.DONE and info.progress == 1.0
    (run_id,) = [p.name for p in (out / "runs").iterdir()]
    with session_scope(factory) as session:
        run = get_run(session, run_id)
        assert (run.committed_step, run.status) == (10, RunStatus.DONE)


def test_db_upgrade_and_check_from_the_environment(tmp_path):
    url = f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
    env = {**os.environ, "PROVENANCE_DB_URL": url}
    done = subprocess.run(
        [sys.executable, "-m", "provenance.cli", "db", "check"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert done.returncode == 2 and "provenance db upgrade" in done.stderr
    for action in ("upgrade", "check"):
        done = subprocess.run(
            [sys.executable, "-m", "provenance.cli", "db", action],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert "schema at revision" in done.stdout
