"""The ledger fixtures of tests/db (SQLite and PostgreSQL) for the evidence tables' tests."""

import importlib.util
from pathlib import Path

_spec = importlib.util.spec_from_file_location(
    "ledger_fixtures", Path(__file__).resolve().parents[1] / "db" / "conftest.py"
)
_fixtures = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_fixtures)

pg_admin = _fixtures.pg_admin
fresh_pg_url = _fixtures.fresh_pg_url
empty_url = _fixtures.empty_url
empty_engine = _fixtures.empty_engine
ledger = _fixtures.ledger
