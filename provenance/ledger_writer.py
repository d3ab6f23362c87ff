"""A run's progress in the SQL ledger, committed crash-safely (issue 4, item 3).

At every checkpoint the writer replaces, in ONE transaction, each target's absolute cumulative
document values (never "value = value + delta"), the per-visit values and efficiency points of
the steps since the last commit, and the run's committed step; the final commit also stores
each target's fused ranking (provenance/ranking.py). A crash inside the transaction
leaves the ledger at the previous committed step; the resumed run rewrites the same absolute
values, so replaying a block twice leaves the ledger identical.
"""

from collections.abc import Sequence

import numpy as np
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from attribution_engine import faults
from attribution_engine.corpus import Corpus
from attribution_engine.document_values import document_values
from attribution_engine.errors import StorageError
from attribution_engine.training import LoopResult
from db.catalog import (
    DocumentRecord,
    TargetRecord,
    add_targets,
    commit_step,
    create_run,
    document_ids,
    find_run,
    get_run,
    upsert_corpus,
)
from db.models import RunKind, TargetOrigin
from db.session import session_scope
from db.values import (
    EfficiencyRecord,
    write_document_values,
    write_efficiency,
    write_snapshots,
    write_visits,
)
from provenance.ranking import store_fused_rankings
from provenance.recipe import Recipe

# Trajectory points per commit: the documents leading by specific value at that moment.
SNAPSHOT_DOCUMENTS = 20


def target_origin(recipe: Recipe, target_id: str) -> TargetOrigin:
    """Where a run's target came from: a training run's targets file (FILE); in a replay, a
    model's output (GENERATED, listed in `recipe.generated`) or the user's text (UPLOADED)."""
    if recipe.parent is None:
        return TargetOrigin.FILE
    return TargetOrigin.GENERATED if target_id in recipe.generated else TargetOrigin.UPLOADED


class LedgerWriter:
    """Registers one run and commits its progress; use one per run execution."""

    def __init__(self, factory: sessionmaker[Session], recipe: Recipe, row_docs: Sequence[str]):
        self.factory, self.recipe, self.row_docs = factory, recipe, list(row_docs)
        self.run_key = recipe.run_id
        self.targets = [t.id for t in recipe.targets]
        self.columns = list(recipe.value_columns)  # the targets, then the reference columns

    def register(self, corpus: Corpus) -> int:
        """Create the corpus, run and targets unless already there; returns the committed step."""
        with session_scope(self.factory) as session:
            existing = find_run(session, self.run_key)
            if existing is not None:
                return existing.committed_step
            info = upsert_corpus(
                session, corpus.sha256, corpus.path, [_record(d) for d in corpus.documents]
            )
            recipe, parent = self.recipe, self.recipe.parent
            create_run(
                session,
                self.run_key,
                RunKind.ATTRIBUTE if parent else RunKind.TRAIN,
                recipe.to_json(),
                corpus_id=info.id,
                parent_run_key=parent.run_id if parent else None,
                initial_weights_sha256=recipe.initial_weights_sha256,
                tokenizer_sha256=recipe.tokenizer_sha256,
            )
            records = [
                TargetRecord(t.id, t.text, target_origin(recipe, t.id), t.prompt)
                for t in recipe.targets
            ]
            records += [
                TargetRecord(column, text, TargetOrigin.REFERENCE)
                for column, text in zip(
                    recipe.reference.columns, recipe.reference.texts, strict=True
                )
            ]
            add_targets(session, self.run_key, records)
            return 0

    def commit(self, done: int, result: LoopResult, final_hash: str | None = None) -> None:
        """One transaction: absolute values after `done` steps, new visits and efficiency,
        the committed step (and status done with the final weights hash when given).

        Raises StorageError when the database refuses the write (disk full, I/O error, lost
        connection): the transaction is rolled back and the ledger stays at its committed step.
        """
        try:
            self._commit(done, result, final_hash)
        except (OSError, DBAPIError) as err:
            reason = err.orig if isinstance(err, DBAPIError) else (err.strerror or err)
            raise StorageError(
                f"ledger commit of step {done} for run {self.run_key} failed ({reason}); it was "
                "rolled back, so the ledger still holds its previous committed step. Free disk "
                "space or fix the database, then resume the run (`provenance train --resume "
                f"{self.run_key}`): the resumed run rewrites this commit"
            ) from err
        faults.point("ledger.after_commit")

    def _commit(self, done: int, result: LoopResult, final_hash: str | None) -> None:
        with session_scope(self.factory) as session:
            faults.point("ledger.before_writes")
            run = get_run(session, self.run_key)
            ids = document_ids(session, run.corpus_id)
            doc_keys, raw, specific = document_values(
                self.row_docs,
                result.visit_row,
                result.visit_values,
                len(self.targets),
                self.recipe.reference.own_columns,
            )
            key_ids = np.array([ids[doc] for doc in doc_keys], dtype=np.int64)
            for v, target in enumerate(self.targets):
                write_document_values(
                    session, self.run_key, target, key_ids, raw[:, v], specific[:, v]
                )
                top = np.argsort(-specific[:, v], kind="stable")[:SNAPSHOT_DOCUMENTS]
                write_snapshots(session, self.run_key, target, done, key_ids[top], specific[top, v])
            row_ids = np.array([ids[doc] for doc in self.row_docs], dtype=np.int64)
            new_steps = range(run.committed_step, done)
            for step in new_steps:
                chosen = result.visit_step == step
                for v, column in enumerate(self.columns):
                    write_visits(
                        session,
                        self.run_key,
                        column,
                        step,
                        row_ids[result.visit_row[chosen]],
                        result.visit_values[chosen, v],
                    )
            write_efficiency(
                session,
                self.run_key,
                [
                    EfficiencyRecord(
                        step,
                        column,
                        float(result.values_sum[step, v]),
                        float(result.predicted_drop[step, v]),
                        float(result.target_loss[step, v]),
                        _known(result.decay_drop[step, v]),
                    )
                    for step in new_steps
                    for v, column in enumerate(self.columns)
                ],
            )
            if final_hash is not None:
                # Final values: store each target's default (fused) order, so every later read
                # of a top-k is one indexed query instead of BM25 over the corpus.
                store_fused_rankings(session, self.run_key, self.targets)
            commit_step(session, self.run_key, done, final_hash)  # flushes: only COMMIT remains
            faults.point("ledger.before_commit")


def _known(value: float) -> float | None:
    """A measurement, or None where it was not measured (NaN: a step from an old checkpoint)."""
    return None if np.isnan(value) else float(value)


def _record(document) -> DocumentRecord:
    return DocumentRecord(
        doc_key=document.id,
        text=document.text,
        sha256=document.sha256,
        source=document.source,
        author=document.author,
        license=document.license,
        url=document.url,
        title=document.title,
        date=document.date,
        metadata=dict(document.metadata) or None,
    )
