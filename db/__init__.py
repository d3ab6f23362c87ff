"""The contribution ledger: SQLAlchemy models, sessions, migrations and queries (issue 4)."""
