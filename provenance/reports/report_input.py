"""Everything one report shows, read once: from the ledger (public db functions only), the run
directory when at hand, and the environment. `build.build_report` is a pure function of it.

Values are in nats; positive = the document lowered the target's loss.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from sqlalchemy.orm import Session, sessionmaker

from db.catalog import (
    CorpusInfo,
    DocumentDetail,
    RunInfo,
    TargetInfo,
    document_hashes,
    get_run,
    get_target,
    run_corpus,
)
from db.catalog import (
    documents as document_details,
)
from db.evidence import EvidenceRecord
from db.rankings import EfficiencyCheck, efficiency_check, rollup, top_documents, trajectories
from db.session import read_only, session_scope
from provenance.evidence import Progress, ensure_evidence, evidence_method, fill_evidence
from provenance.ranking import ranked_documents
from provenance.recipe import Recipe
from provenance.reports.manifest import RunFiles, read_run_files

TOP_K = 10  # contributors and harmful documents shown, each with its evidence
ROLLUP_FIELDS = ("source", "author", "license")


@dataclass(frozen=True)
class ReportInput:
    """One (run, target) report's data. `top` is a `provenance.ranking.ranked_documents` frame
    (the first k in the default ranking), `bottom` a `db.rankings.top_documents` frame (the k
    lowest by specific value of those below zero)."""

    k: int
    run: RunInfo
    recipe: Recipe
    parent: RunInfo | None
    target: TargetInfo
    top: pd.DataFrame
    bottom: pd.DataFrame
    documents: dict[str, DocumentDetail]  # the shown documents, by doc_key
    evidence: dict[str, EvidenceRecord]  # of the shown documents that have it
    efficiency: EfficiencyCheck | None  # None: fewer than two steps stored
    rollups: dict[str, pd.DataFrame]  # `db.rankings.rollup` of this target, by field
    trajectories: pd.DataFrame
    corpus: CorpusInfo | None
    corpus_documents: list[tuple[str, str]]  # (doc_key, SHA-256), sorted
    evidence_method: dict
    files: RunFiles


@dataclass(frozen=True)
class Shown:
    """The documents a report shows: `top`, the first k in the default ranking (training
    contribution fused with word overlap; a `provenance.ranking.ranked_documents` frame), and
    `bottom`, the k lowest by specific value of those below zero (`db.rankings.top_documents`).
    Read once per export: the fused ranking scores the whole corpus with BM25."""

    top: pd.DataFrame
    bottom: pd.DataFrame

    @property
    def doc_keys(self) -> list[str]:
        return self.top["doc_key"].tolist() + self.bottom["doc_key"].tolist()


def shown(session: Session, run_key: str, target_key: str, k: int = TOP_K) -> Shown:
    top = ranked_documents(session, run_key, target_key, k)
    bottom = top_documents(session, run_key, target_key, k, by="specific", ascending=True)
    return Shown(top, bottom[bottom["value"] < 0])


def fill_report_evidence(
    factory: sessionmaker[Session],
    run_key: str,
    target_key: str,
    k: int = TOP_K,
    progress: Progress | None = None,
) -> Shown:
    """Compute the evidence a report of (run, target) will show, outside any write transaction
    (`fill_evidence`), so that reading the report's input afterwards only reads it; returns
    the shown documents, for `read_report_input`."""
    with session_scope(read_only(factory)) as session:
        documents = shown(session, run_key, target_key, k)
    fill_evidence(factory, run_key, target_key, documents.doc_keys, progress=progress)
    return documents


def read_report_input(
    session: Session,
    run_key: str,
    target_key: str,
    *,
    run_dir: Path | None = None,
    k: int = TOP_K,
    compute_evidence: bool = True,
    read_corpus_file: bool = True,
    documents: Shown | None = None,
) -> ReportInput:
    """Read one report's input. Evidence missing from the ledger is computed and stored in
        the session's transaction (compute_evidence=False leaves it out instead, as `verify`
        does; read_corpus_file=False does not hash the recipe's corpus path either, as `verify`
        reads only the files its caller names; `documents`, when given, are the shown documents
    `fill_report_evidence` read, not ranked again). RecipeError when the run's stored recipe cannot
        be read."""
    run = get_run(session, run_key)
    recipe = Recipe.from_json(run.recipe, where=f"the ledger's recipe of run {run_key!r}")
    target = get_target(session, run_key, target_key)
    documents = documents or shown(session, run_key, target_key, k)
    keys = documents.doc_keys
    return ReportInput(
        k=k,
        run=run,
        recipe=recipe,
        parent=get_run(session, run.parent_run_key) if run.parent_run_key else None,
        target=target,
        top=documents.top,
        bottom=documents.bottom,
        documents=document_details(session, run_key, keys),
        evidence=ensure_evidence(session, run_key, target_key, keys, compute=compute_evidence),
        efficiency=efficiency_check(session, run_key, target_key),
        rollups={field: rollup(session, run_key, target_key, field) for field in ROLLUP_FIELDS},
        trajectories=trajectories(session, run_key, target_key),
        corpus=run_corpus(session, run_key),
        corpus_documents=document_hashes(session, run_key),
        evidence_method=evidence_method(),
        files=read_run_files(run_dir, Path(recipe.corpus.path) if read_corpus_file else None),
    )
