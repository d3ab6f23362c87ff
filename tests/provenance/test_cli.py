"""The command line itself: every option explains itself, and the query commands answer
without importing torch (seconds of import, 35 s under load, for a lookup in the ledger)."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

from db.session import make_engine, make_sessionmaker, session_scope
from provenance.cli import _parser
from provenance.ranking import store_fused_rankings
from tests.app.conftest import KNOWN_TARGET, KNOWN_TOP, RUN, seed_fixture_ledger

HEAVY = ("torch", "transformers", "sentence_transformers")


def _commands() -> dict[str, argparse.ArgumentParser]:
    parser = _parser()
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(sub.choices)


@pytest.mark.parametrize("name", sorted(_commands()))
def test_every_option_says_what_it_means_and_its_default(name):
    command = _commands()[name]
    shown = " ".join(command.format_help().split())  # argparse wraps lines anywhere
    for action in command._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        label = action.option_strings or [action.dest]
        assert action.help, f"`provenance {name} {label[0]}` has no help text"
        if action.option_strings and action.default not in (None, False, []):
            assert f"default: {action.default}" in shown, (
                f"`provenance {name} --help` does not show the default of {label[0]}"
            )
    assert "None" not in shown, f"`provenance {name} --help` prints a bare None"


def _run_in_process(args: list[str], heavy: tuple[str, ...] = HEAVY) -> dict:
    """Run `provenance ARGS` in a fresh interpreter and say which `heavy` modules it imported
    (and what it printed)."""
    probe = (
        "import json, sys\n"
        "from provenance import cli\n"
        "code = 0\n"
        "try:\n"
        f"    cli.main({args!r})\n"
        "except SystemExit as stop:\n"
        "    code = stop.code or 0\n"
        f"print(json.dumps({{'code': code, 'loaded': [m for m in {heavy!r} if m in sys.modules]}}))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    *printed, outcome = done.stdout.strip().splitlines()
    return {**json.loads(outcome), "printed": "\n".join(printed)}


@pytest.fixture(scope="module")
def ledger_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("cli")
    seed_fixture_ledger(f"sqlite:///{out / 'ledger.sqlite3'}")
    return out


@pytest.mark.parametrize(
    "args",
    [
        ["top", "--run", RUN, "--target", KNOWN_TARGET, "-k", "3"],
        ["top", "--run", RUN, "--target", KNOWN_TARGET, "--by", "raw", "--json"],
        ["db", "check"],
        ["verify", "no-such-report.json"],
    ],
    ids=["top", "top-json", "db-check", "verify"],
)
def test_query_commands_never_import_torch(ledger_dir, args):
    outcome = _run_in_process([*args, "--out", str(ledger_dir)])
    assert outcome["loaded"] == [], f"`provenance {' '.join(args)}` imported {outcome['loaded']}"
    expected = 2 if args[0] == "verify" else 0  # verify: the missing file is bad input
    assert outcome["code"] == expected


@pytest.fixture(scope="module")
def finished_ledger_dir(tmp_path_factory) -> Path:
    """The fixture ledger with its targets' fused order stored, as a finished run's final
    commit stores it (provenance/ledger_writer.py)."""
    out = tmp_path_factory.mktemp("cli-finished")
    url = f"sqlite:///{out / 'ledger.sqlite3'}"
    seed_fixture_ledger(url)
    with session_scope(make_sessionmaker(make_engine(url), write=True)) as session:
        store_fused_rankings(session, RUN, [KNOWN_TARGET, "t-other"])
    return out


def test_top_of_a_finished_run_reads_its_stored_order_without_pandas_or_bm25(
    ledger_dir, finished_ledger_dir
):
    """The default `top` of a finished run imports neither pandas nor BM25 (about half a
    second of a fresh process) and prints exactly what ranking on read prints."""
    args = ["top", "--run", RUN, "--target", KNOWN_TARGET, "-k", "5", "--json", "--out"]
    heavy = (*HEAVY, "pandas", "bm25s", "scipy")
    finished = _run_in_process([*args, str(finished_ledger_dir)], heavy)
    assert finished["loaded"] == [] and finished["code"] == 0
    on_read = _run_in_process([*args, str(ledger_dir)], heavy)
    assert "bm25s" in on_read["loaded"]  # the run without stored ranks is ranked on read
    assert json.loads(finished["printed"]) == json.loads(on_read["printed"])
    assert json.loads(finished["printed"])[0]["doc_id"] == KNOWN_TOP


def test_top_prints_the_known_leader_first(ledger_dir, capsys):
    from provenance.cli import main

    main(
        [
            "top",
            "--run",
            RUN,
            "--target",
            KNOWN_TARGET,
            "-k",
            "1",
            "--json",
            "--out",
            str(ledger_dir),
        ]
    )
    (row,) = json.loads(capsys.readouterr().out)
    assert row["doc_id"] == KNOWN_TOP
