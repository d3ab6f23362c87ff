"""Alembic migrations of the ledger (a package so that installed wheels carry them)."""
