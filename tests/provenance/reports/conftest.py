"""Fixtures of the report tests: one tiny attributed run in a SQLite ledger per module (the
PostgreSQL fixtures come from tests/conftest.py)."""

from __future__ import annotations

import pytest
from report_fixtures import Ledgered, train_run


@pytest.fixture(scope="module")
def ledgered(tmp_path_factory) -> Ledgered:
    tmp = tmp_path_factory.mktemp("reports")
    return train_run(tmp, f"sqlite:///{tmp / 'ledger.sqlite3'}")
