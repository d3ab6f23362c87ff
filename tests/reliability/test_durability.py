"""Item 13 of issue 18: a committed ledger transaction survives a power loss on SQLite. In WAL
mode that needs synchronous=FULL (the WAL is fsynced at every commit); NORMAL loses the last
commits on power loss, which no kill -9 test can see, so the setting itself is checked on
every kind of connection the ledger opens."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from db.session import make_engine, make_sessionmaker, read_only, session_scope

FULL = 2  # PRAGMA synchronous: 0 OFF, 1 NORMAL, 2 FULL, 3 EXTRA


def test_sqlite_ledger_commits_survive_power_loss(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'ledger.sqlite3'}")
    write = make_sessionmaker(engine, write=True)
    for factory in (write, make_sessionmaker(engine), read_only(write)):
        with session_scope(factory) as session:
            assert session.execute(text("PRAGMA synchronous")).scalar_one() == FULL
            assert session.execute(text("PRAGMA journal_mode")).scalar_one() == "wal"
    engine.dispose()
