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
    (out / "corpora").mkdir(parents=True, exist_ok=True)  # jobs read only this folder
    (out / "corpora" / corpus_file.name).write_bytes(corpus_file.read_bytes())
    enqueue(factory, TrainJob(corpus_path=Path(corpus_file.name), config=TrainConfig(steps=4)))
    password_file = tmp_path / "password"  # a worker never takes a password in argv
    password_file.write_text(secret)
    worker = run_cli(
        ["worker", "--once", "--out", str(out)],
        env={"PROVENANCE_DB_URL": fresh_pg_url, "PROVENANCE_DB_PASSWORD_FILE": str(password_file)},
    )
    assert worker.returncode == 0, worker.stderr[-2000:]
    bad = run_cli(["db", "check", "--db", url.replace(":5432/", ":1/")])
    assert bad.returncode != 0
    env = run_cli(["db", "check"], env={"PROVENANCE_DB_URL": url})
    assert env.returncode == 0, env.stderr[-2000:]
    for done in (trained, worker, bad, env):
        assert secret not in done.stdout and secret not in done.stderr
    assert _files_containing(tmp_path, secret) == [str(password_file)]
    assert secret not in _ledger_dump(fresh_pg_url)
    with pg_admin.connect() as connection:  # nothing in the server's view of the sessions
        assert secret not in repr(connection.execute(text("SELECT * FROM pg_stat_activity")).all())


# ---------------------------------------------------------------------------------------------
# Issue 18 item 12: no password in the environment, the command line or the server's log.


@pytest.mark.parametrize("command", ["worker", "ui"])
def test_long_running_commands_refuse_a_password_in_argv(command, capsys):
    secret = _password()
    url = f"postgresql+psycopg://provenance_writer:{secret}@127.0.0.1:1/provenance"
    assert _main(command, "--db", url) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "PROVENANCE_DB_PASSWORD_FILE" in err
    assert secret not in err


def test_migrate_never_puts_the_password_in_the_environment(pg_admin, pg_database_url, tmp_path):
    """deploy/migrate.sh on a scratch database set up as docker-compose does: psql gets the
    owner's password from a pgpass file it removes afterwards, never from PGPASSWORD."""
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    script = root / "deploy" / "migrate.sh"
    code = [line for line in script.read_text().splitlines() if not line.startswith("#")]
    assert not [line for line in code if "PGPASSWORD" in line]
    name = f"provenance_migrate_{uuid.uuid4().hex[:10]}"
    with pg_admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        import psycopg

        admin = pg_database_url(name, "postgres").replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(admin, autocommit=True) as connection:
            roles = root / "deploy" / "postgres-init" / "10-roles.sql"
            connection.execute(roles.read_text().encode())
        password_file = tmp_path / "owner_password"
        password_file.write_text(_password() + "\n")
        scratch = tmp_path / "tmp"
        scratch.mkdir()
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("PG", "PROVENANCE_"))},
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
            "PROVENANCE_DB_URL": pg_database_url(name, "provenance_owner"),
            "PROVENANCE_DB_PASSWORD_FILE": str(password_file),
            "PGHOST": "127.0.0.1",
            "PGDATABASE": name,
            "TMPDIR": str(scratch),
        }
        done = subprocess.run(
            ["sh", str(script)], env=env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr[-2000:]
        assert list(scratch.iterdir()) == []  # the pgpass file is gone
        with psycopg.connect(admin, autocommit=True) as connection:
            can_delete = connection.execute(
                "SELECT has_table_privilege('provenance_ui', 'evidence', 'DELETE')"
            ).fetchone()[0]
        assert can_delete is False  # grants.sql ran
    finally:
        with pg_admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def test_role_passwords_are_never_written_to_the_server_log():
    """20-passwords.sql turns statement logging off for its session before any ALTER ROLE."""
    root = Path(__file__).resolve().parents[2]
    sql = (root / "deploy" / "postgres-init" / "20-passwords.sql").read_text()
    first_alter = sql.index("\nALTER ROLE")
    for setting in ("log_statement = 'none'", "log_min_duration_statement = -1"):
        assert -1 < sql.find(setting) < first_alter, setting
