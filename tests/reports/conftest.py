"""Fixtures of the report tests: one tiny attributed run in a SQLite ledger per module, and
the PostgreSQL fixtures of tests/db."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from report_fixtures import Ledgered, train_run

_spec = importlib.util.spec_from_file_location(
    "ledger_fixtures", Path(__file__).resolve().parents[1] / "db" / "conftest.py"
)
_fixtures = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_fixtures)
pg_admin, fresh_pg_url = _fixtures.pg_admin, _fixtures.fresh_pg_url


@pytest.fixture(scope="module")
def ledgered(tmp_path_factory) -> Ledgered:
    tmp = tmp_path_factory.mktemp("reports")
    return train_run(tmp, f"sqlite:///{tmp / 'ledger.sqlite3'}")
