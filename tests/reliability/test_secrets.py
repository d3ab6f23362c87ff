"""A PostgreSQL password never appears in what the product prints, logs, stores or exports.

The ledger URL carries a unique password (the test server trusts 127.0.0.1, so any password
connects). Every log record at DEBUG level (SQLAlchemy, psycopg, ours), stdout, stderr, the
run directory, the ledger's own tables, the job table and the exported reports are searched
for it; so are the error messages of a refused connection.
"""

from __future__ import annotations

import logging
import traceback
import uuid
from pathlib import Path

import pytest
from reliability_helpers import full, run_cli, train_args
from sqlalchemy import text

from provenance import cli


def _password() -> str:
    return f"pw-{uuid.uuid4().hex}"


def _with_password(url: str, password: str) -> str:
    scheme, rest = url.split("://", 1)
    user, host = rest.split("@", 1)
    return f"{scheme}://{user}:{password}@{host}"


def _main(*args: str) -> int:
    try:
        cli.main(list(args))
    except SystemExit as stop:
        return int(stop.code or 0)
    return 0


def _files_containing(root: Path, secret: str) -> list[str]:
    return [str(p) for p in root.rglob("*") if p.is_file() and secret.encode() in p.read_bytes()]


def _ledger_dump(url: str) -> str:
    from db.models import Base
    from db.session import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return "".join(
                repr(row)
                for table in Base.metadata.sorted_tables
                for row in connection.execute(table.select())
            )
    finally:
        engine.dispose()


def test_password_never_logged_printed_stored_or_exported(
    fresh_pg_url, corpus_file, targets_file, tmp_path, capsys, caplog
):
    secret = _password()
    url = _with_password(fresh_pg_url, secret)
    caplog.set_level(logging.DEBUG)
    out = tmp_path / "out"
    args = train_args(corpus_file, targets_file, out, url, 4, 2)
    assert _main(*[a for a in args if a != "--quiet"]) == 0  # progress and estimate printed
    run_id = next((out / "runs").iterdir()).name
    for fmt in ("json", "html", "csv"):
        report = tmp_path / f"report.{fmt}"
        status = _main(
            "report", "--run", run_id, "--target", "copy", "--format", fmt,
            "-o", str(report), "--out", str(out), "--db", url,
        )  # fmt: skip
        assert status == 0
    assert _main("db", "check", "--db", url) == 0
    assert _main("top", "--run", run_id, "--target", "copy", "--out", str(out), "--db", url) == 0
    # A refused connection: the error text and its traceback.
    refused = _with_password("postgresql+psycopg://postgres@127.0.0.1:1/none", secret)
    with pytest.raises(Exception) as err:  # the driver's own error class
        cli.main(["db", "check", "--db", refused])
    printed = capsys.readouterr()
    logged = "\n".join(f"{r.name}: {r.getMessage()} {r.args!r}" for r in caplog.records)
    assert caplog.records, "DEBUG logging captured nothing: the check would be vacuous"
    assert secret not in printed.out and secret not in printed.err
    assert secret not in logged
    assert secret not in "".join(traceback.format_exception(err.value))
    assert _files_containing(tmp_path, secret) == []
    assert secret not in _ledger_dump(fresh_pg_url)


@full
def test_password_never_in_worker_or_cli_process_output(
    fresh_pg_url, corpus_file, targets_file, tmp_path, pg_admin
):
    """The same through real processes: the CLI and a worker running a queued job."""
    from attribution_engine.train_config import TrainConfig
    from db.schema import open_ledger
    from provenance.jobs import TrainJob, enqueue

    secret = _password()
    url = _with_password(fresh_pg_url, secret)
    out = tmp_path / "out"
    trained = run_cli([a for a in train_args(corpus_file, targets_file, out, url, 4, 2)])
    assert trained.returncode == 0, trained.stderr[-2000:]
    factory = open_ledger(fresh_pg_url)
    enqueue(factory, TrainJob(corpus_path=corpus_file, config=TrainConfig(steps=4)))
    worker = run_cli(["worker", "--once", "--db", url, "--out", str(out)])
    assert worker.returncode == 0, worker.stderr[-2000:]
    bad = run_cli(["db", "check", "--db", url.replace(":5432/", ":1/")])
    assert bad.returncode != 0
    env = run_cli(["db", "check"], env={"PROVENANCE_DB_URL": url})
    assert env.returncode == 0, env.stderr[-2000:]
    for done in (trained, worker, bad, env):
        assert secret not in done.stdout and secret not in done.stderr
    assert _files_containing(tmp_path, secret) == []
    assert secret not in _ledger_dump(fresh_pg_url)
    with pg_admin.connect() as connection:  # nothing in the server's view of the sessions
        assert secret not in repr(connection.execute(text("SELECT * FROM pg_stat_activity")).all())
