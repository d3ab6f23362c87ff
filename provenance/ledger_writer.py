"""A run's progress in the SQL ledger, committed crash-safely (issue 4, item 3).

At every checkpoint the writer replaces, in ONE transaction, each target's absolute cumulative
document values (never "value = value + delta"), the per-visit values and efficiency points of
the steps since the last commit, and the run's committed step. A crash inside the transaction
leaves the ledger at the previous committed step; the resumed run rewrites the same absolute
values, so replaying a block twice leaves the ledger identical.
"""

from collections.abc import Sequence

import numpy as np
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from attribution_engine import faults
from attribution_engine.corpus import Corpus
from attribution_engine.errors import StorageError
from attribution_engine.ranking import aggregate
from attribution_engine.training import LoopResult
from db.models import Run, RunKind, RunStatus, TargetOrigin
from db.repository import (
    DocumentRecord,
    EfficiencyRecord,
    TargetRecord,
    add_targets,
    create_run,
    document_ids,
    upsert_corpus,
    write_document_values,
    write_efficiency,
    write_snapshots,
    write_visits,
)
from db.session import session_scope

# Trajectory points per commit: the documents leading by specific value at that moment.
SNAPSHOT_DOCUMENTS = 20


class LedgerWriter:
    """Registers one run and commits its progress; use one per run execution."""

    def __init__(self, factory: sessionmaker[Session], recipe: dict, row_docs: Sequence[str]):
        self.factory, self.recipe, self.row_docs = factory, recipe, list(row_docs)
        self.run_key = recipe["run_id"]
        targets = [t["id"] for t in recipe["targets"]]
        self.columns = targets + [f"reference:{d}" for d in recipe["reference"]["doc_ids"]]

    def register(self, corpus: Corpus) -> int:
        """Create the corpus, run and targets unless already there; returns the committed step."""
        with session_scope(self.factory) as session:
            existing = session.execute(
                select(Run).where(Run.run_key == self.run_key)
            ).scalar_one_or_none()
            if existing is not None:
                return existing.committed_step
            info = upsert_corpus(
                session, corpus.sha256, corpus.path, [_record(d) for d in corpus.documents]
            )
            parent = self.recipe.get("parent")
            create_run(
                session,
                self.run_key,
                RunKind.ATTRIBUTE if parent else RunKind.TRAIN,
                self.recipe,
                corpus_id=info.id,
                parent_run_key=parent["run_id"] if parent else None,
                initial_weights_sha256=self.recipe["initial_weights_sha256"],
                tokenizer_sha256=self.recipe["tokenizer_sha256"],
            )
            origin = TargetOrigin.GENERATED if parent else TargetOrigin.FILE
            records = [
                TargetRecord(t["id"], t["text"], origin, t.get("prompt"))
                for t in self.recipe["targets"]
            ]
            records += [
                TargetRecord(f"reference:{doc}", text, TargetOrigin.REFERENCE)
                for doc, text in zip(
                    self.recipe["reference"]["doc_ids"],
                    self.recipe["reference"]["texts"],
                    strict=True,
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
            run = session.execute(select(Run).where(Run.run_key == self.run_key)).scalar_one()
            ids = document_ids(session, run.corpus_id)
            doc_keys, raw, specific = aggregate(
                self.row_docs, result.visit_row, result.visit_values, self.recipe
            )
            key_ids = np.array([ids[doc] for doc in doc_keys], dtype=np.int64)
            for v, target in enumerate(t["id"] for t in self.recipe["targets"]):
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
                    )
                    for step in new_steps
                    for v, column in enumerate(self.columns)
                ],
            )
            run.committed_step = done
            run.status = RunStatus.DONE if final_hash else RunStatus.RUNNING
            if final_hash:
                run.final_weights_sha256 = final_hash
            session.flush()  # every row on the server; only COMMIT remains
            faults.point("ledger.before_commit")


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
