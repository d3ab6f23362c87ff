"""A ledger seeded by hand, for the benchmarks and the tests that need a run without training
one: a corpus, a train run over it whose recipe is a complete `Recipe`, and the run's targets,
written through the repository functions that provenance/ledger_writer.py uses.

It lives in benchmarks/ because both sides reach it from the repository root without touching
`sys.path`: the benchmarks run there as `python -m benchmarks.<name>`, and the tests import it as
`benchmarks.ledger_seed` (`make test` runs `python -m pytest` there, as the tests' own
`tests.app.conftest` imports already assume). The tests' other helpers live in tests/, which the
benchmarks cannot import.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Sequence
from typing import Any

import numpy as np
from sqlalchemy.orm import Session, sessionmaker

from attribution_engine.targets import TargetText
from attribution_engine.train_config import TINY_MODEL, TrainConfig
from db.catalog import (
    DocumentRecord,
    TargetRecord,
    add_targets,
    create_run,
    document_ids,
    upsert_corpus,
)
from db.models import RunKind, TargetOrigin
from db.session import session_scope
from provenance.recipe import CorpusRecord, Recipe, Reference

# The held-out reference columns' target keys: "reference:<doc key>" (provenance.recipe).
REFERENCE_PREFIX = "reference:"


def make_recipe(run_id: str = "r1", *, config: TrainConfig | None = None, **fields) -> Recipe:
    """A from-scratch train recipe of 3 steps with no targets; `fields` replace any field."""
    config = config or TrainConfig()
    recipe = Recipe(
        run_id=run_id,
        kind="train",
        created="2026-12-01T00:00:00+00:00",
        config=config,
        model=TINY_MODEL,
        corpus=CorpusRecord("/corpus.jsonl", "0" * 64, 1, (), False, ()),
        tokenizer_sha256="1" * 64,
        initial_weights_sha256="2" * 64,
        reference=Reference("other_targets", (), ()),
        targets=(),
        accounting=config.resolved_accounting().value,
        total_steps=3,
    )
    return dataclasses.replace(recipe, **fields)


def document(key: str, text: str, **metadata: Any) -> DocumentRecord:
    """A corpus document hashed as ingestion hashes it (SHA-256 of its text); `metadata` fills
    DocumentRecord's optional columns (source, author, license, title, ...)."""
    return DocumentRecord(key, text, hashlib.sha256(text.encode()).hexdigest(), **metadata)


def seed_ledger(
    factory: sessionmaker[Session],
    documents: Sequence[DocumentRecord],
    targets: Sequence[TargetRecord],
    *,
    run_key: str = "r1",
    steps: int = 3,
    corpus_sha256: str = "0" * 64,
    corpus_path: str = "/corpus.jsonl",
    n_chunks: int | None = None,
) -> np.ndarray:
    """In one transaction: the corpus of `documents` (kept if a corpus with this hash is there
    already), train run `run_key` over it, and its `targets`. The run's recipe says what the
    ledger holds: `steps` steps of the tiny model on this corpus, the non-reference targets as
    its targets, the REFERENCE ones (keyed "reference:<doc key>") as its held-out reference.

    Returns the documents' ledger ids (int64) in `documents` order, as the value writers take
    them.
    """
    corpus_record = CorpusRecord(corpus_path, corpus_sha256, len(documents), (), False, ())
    recipe = make_recipe(
        run_key,
        config=TrainConfig(steps=steps),
        corpus=corpus_record,
        reference=_reference(targets),
        targets=tuple(
            TargetText(t.target_key, t.text, t.prompt)
            for t in targets
            if t.origin is not TargetOrigin.REFERENCE
        ),
        total_steps=steps,
    )
    with session_scope(factory) as session:
        corpus = upsert_corpus(session, corpus_sha256, corpus_path, documents, n_chunks=n_chunks)
        create_run(
            session,
            run_key,
            RunKind.TRAIN,
            recipe.to_json(),
            corpus_id=corpus.id,
            initial_weights_sha256=recipe.initial_weights_sha256,
            tokenizer_sha256=recipe.tokenizer_sha256,
        )
        add_targets(session, run_key, targets)
        ids = document_ids(session, corpus.id)
        return np.array([ids[d.doc_key] for d in documents], dtype=np.int64)


def _reference(targets: Sequence[TargetRecord]) -> Reference:
    held_out = [t for t in targets if t.origin is TargetOrigin.REFERENCE]
    if not held_out:
        return Reference("other_targets", (), ())
    if bad := [t.target_key for t in held_out if not t.target_key.startswith(REFERENCE_PREFIX)]:
        raise ValueError(f"reference targets {bad} must be keyed '{REFERENCE_PREFIX}<doc key>'")
    return Reference(
        "held_out",
        tuple(t.target_key.removeprefix(REFERENCE_PREFIX) for t in held_out),
        tuple(t.text for t in held_out),
    )
