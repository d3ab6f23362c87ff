"""The application layer: composes the engine (attribution_engine/) and the ledger (db/).

The command line, runs on disk (prepare, resume, replay), the ledger writer, jobs and the
worker, the torchrun launcher, the demo and its corpus, evidence gathering, reports and the
figure builders that reports and the UI share. The rule: app -> provenance ->
{attribution_engine, db}; see the import-linter contracts in pyproject.toml.
"""
