"""The docker-compose topology without a container engine: the real local PostgreSQL with the
roles of deploy/postgres-init/10-roles.sql and the grants of deploy/grants.sql, a `provenance
worker` (writer role) and a `provenance ui` (UI role) as separate processes. A job enqueued with
the UI's role completes; the UI's role is refused every write to the ledger's values.

PostgreSQL is the local server (PROVENANCE_TEST_PG_URL, default postgres@127.0.0.1:5432, trust
auth). Unreachable: skipped, except under CI=true, where it fails. The three roles are
cluster-wide and left in place (10-roles.sql is idempotent); the scratch database is dropped.
"""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import ProgrammingError
from synthetic import write_corpus

from attribution_engine.train_config import TrainConfig
from db import jobs
from db.models import JobStatus
from db.schema import upgrade
from db.session import make_engine, make_sessionmaker, session_scope
from provenance.jobs import TrainJob, enqueue

ROOT = Path(__file__).resolve().parents[2]
ROLES_SQL = ROOT / "deploy" / "postgres-init" / "10-roles.sql"
GRANTS_SQL = ROOT / "deploy" / "grants.sql"
INSUFFICIENT_PRIVILEGE = "42501"


def _run_sql_file(url: str, path: Path) -> None:
    """The file as one simple-protocol batch (no parameters), as psql -f would run it."""
    import psycopg

    conninfo = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(conninfo, autocommit=True) as connection:
        connection.execute(path.read_text().encode())  # bytes, no parameters: sent verbatim


@pytest.fixture
def ledger_db(pg_admin: Engine, pg_database_url) -> Iterator[str]:
    """A scratch database set up as docker-compose sets it up: roles, migrations, grants."""
    name = f"provenance_topology_{uuid.uuid4().hex[:10]}"
    with pg_admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        # As the image's init scripts do, then the `migrate` service: `provenance db upgrade`
        # as the owner, then deploy/grants.sql.
        _run_sql_file(pg_database_url(name, "postgres"), ROLES_SQL)
        owner = make_engine(pg_database_url(name, "provenance_owner"))
        upgrade(owner)
        owner.dispose()
        _run_sql_file(pg_database_url(name, "provenance_owner"), GRANTS_SQL)
        yield name
    finally:
        with pg_admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(args: list[str], log: Path) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("PROVENANCE_DB_URL", None)
    env.pop("PROVENANCE_DB_PASSWORD_FILE", None)
    handle = log.open("w")
    return subprocess.Popen(
        [sys.executable, "-m", "provenance.cli", *args],
        stdout=handle,
        stderr=subprocess.STDOUT,
        env=env,
        cwd=ROOT,
    )


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_healthy(port: int, process: subprocess.Popen, log: Path, deadline: float) -> None:
    while time.monotonic() < deadline:
        assert process.poll() is None, f"the UI exited:\n{log.read_text()[-3000:]}"
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"the UI did not answer on port {port}:\n{log.read_text()[-3000:]}")


def test_worker_and_ui_as_separate_processes_with_their_roles(ledger_db, pg_database_url, tmp_path):
    writer_url = pg_database_url(ledger_db, "provenance_writer")
    ui_url = pg_database_url(ledger_db, "provenance_ui")
    data = tmp_path / "data"
    # Jobs read only the data directory's corpus folder (provenance/jobs/roots.py).
    (data / "corpora").mkdir(parents=True)
    corpus, targets = data / "corpora" / "corpus.jsonl", data / "corpora" / "targets.jsonl"
    docs = write_corpus(corpus, n_docs=30)
    targets.write_text(json.dumps({"id": "copy", "text": docs[7]["text"]}) + "\n")

    # The UI's role enqueues (the only write it has on the queue), as the UI's pages do.
    ui_engine = make_engine(ui_url)
    config = TrainConfig(steps=3, batch_rows=4, checkpoint_every=3, lr=3e-3)
    payload = TrainJob(
        corpus_path=Path("corpus.jsonl"), config=config, targets_path=Path("targets.jsonl")
    )
    job_id = enqueue(make_sessionmaker(ui_engine, write=True), payload)

    port = _free_port()
    worker_log, ui_log = tmp_path / "worker.log", tmp_path / "ui.log"
    worker = _start(["worker", "--db", writer_url, "--out", str(data), "--poll", "0.5"], worker_log)
    ui = _start(["ui", "--db", ui_url, "--out", str(data), "--port", str(port)], ui_log)
    try:
        deadline = time.monotonic() + 240
        _wait_healthy(port, ui, ui_log, deadline)
        read = make_sessionmaker(ui_engine)
        while time.monotonic() < deadline:
            with session_scope(read) as session:
                job = jobs.job_status(session, job_id)
            if job.status in (JobStatus.DONE, JobStatus.FAILED):
                break
            assert worker.poll() is None, f"the worker exited:\n{worker_log.read_text()[-3000:]}"
            time.sleep(0.5)
        assert job.status is JobStatus.DONE, (job.message, worker_log.read_text()[-3000:])
        assert job.progress == 1.0
        # The UI's role reads what the worker wrote.
        with ui_engine.connect() as connection:
            runs = connection.execute(text("SELECT count(*) FROM runs")).scalar_one()
            values = connection.execute(text("SELECT count(*) FROM document_values")).scalar_one()
        assert runs == 1 and values > 0
    finally:
        _stop(worker)
        _stop(ui)

    # Refused: every write of the UI's role outside the queue, and any schema change by the
    # worker's role.
    refused = [
        (ui_url, "INSERT INTO runs DEFAULT VALUES"),
        (ui_url, "UPDATE document_values SET raw = 0"),
        (ui_url, "DELETE FROM document_values"),
        (ui_url, "UPDATE jobs SET status = 'queued'"),
        (ui_url, "DELETE FROM jobs"),
        (ui_url, "CREATE TABLE intruder (id int)"),
        (writer_url, "CREATE TABLE intruder (id int)"),
        (writer_url, "DROP TABLE document_values"),
    ]
    for url, statement in refused:
        engine = create_engine(url)
        with pytest.raises(ProgrammingError) as caught, engine.begin() as connection:
            connection.execute(text(statement))
        engine.dispose()
        assert caught.value.orig.sqlstate == INSUFFICIENT_PRIVILEGE, statement
    ui_engine.dispose()
