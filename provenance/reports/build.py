"""Gather one report from the ledger (and the run directory when at hand) as a JSON value.

The report is plain data (dicts, lists, str, int, float, bool, None) that `canonical` turns
into bytes, so it holds no timestamp of its own and no float NaN: the same ledger gives the
same report. Values are in nats; positive = the document lowered the target's loss.
Contributors are ranked by specific value (DESIGN 2.4b), raw value beside it.

`envelope` wraps it for the JSON file: {"report": ..., "sha256": hash of the report,
"sections": hash of each top-level section}, so `verify` names the section that changed.
"""

from __future__ import annotations

import math
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from db.evidence import EvidenceRecord
from db.models import Document, Run
from db.repository import (
    _run,
    _target,
    efficiency_series,
    top_documents,
    trajectories,
    values_by,
)
from db.session import read_only, session_scope
from provenance.evidence import ensure_evidence, evidence_method, fill_evidence
from provenance.reports.canonical import sha256
from provenance.reports.manifest import manifest

SCHEMA = "provenance-report/1"
TOP_K = 10  # contributors and harmful documents shown, each with its evidence
ROLLUP_FIELDS = ("source", "author", "license")
UNITS = "nats; positive = the document lowered the target's loss"

APPROXIMATIONS = {
    1: "first-order Taylor expansion of each step's utility (DESIGN 2.2)",
    2: "second-order Taylor expansion with one Hessian-vector product per step (DESIGN 2.2)",
}


def fill_report_evidence(
    factory: sessionmaker[Session], run_key: str, target_key: str, k: int = TOP_K
) -> None:
    """Compute the evidence a report of (run, target) will show, outside any write transaction
    (`fill_evidence`), so that building the report afterwards only reads it."""
    with session_scope(read_only(factory)) as session:
        top, bottom = _shown(session, run_key, target_key, k)
    fill_evidence(
        factory, run_key, target_key, top["doc_key"].tolist() + bottom["doc_key"].tolist()
    )


def _shown(session: Session, run_key: str, target_key: str, k: int):
    """(contributors, harmful documents): the k highest by specific value, and the k lowest
    of those below zero."""
    top = top_documents(session, run_key, target_key, k, by="specific")
    bottom = top_documents(session, run_key, target_key, k, by="specific", ascending=True)
    return top, bottom[bottom["value"] < 0]


def build_report(
    session: Session,
    run_key: str,
    target_key: str,
    *,
    run_dir: Path | None = None,
    k: int = TOP_K,
    compute_evidence: bool = True,
) -> dict:
    """The report of one (run, target). Evidence missing from the ledger is computed and stored
    (compute_evidence=False leaves it out instead, as `verify` does)."""
    run = _run(session, run_key)
    target = _target(session, run, target_key)
    top, bottom = _shown(session, run_key, target_key, k)
    keys = top["doc_key"].tolist() + bottom["doc_key"].tolist()
    found = ensure_evidence(session, run_key, target_key, keys, compute=compute_evidence)
    documents = _documents(session, run, keys)
    efficiency = efficiency_series(session, run_key)
    return {
        "schema": SCHEMA,
        "target": {
            "key": target.target_key,
            "text": target.text,
            "prompt": target.prompt,
            "origin": target.origin.value,
        },
        "run": _run_section(session, run),
        "method": {**_method(run.recipe), "documents_shown": k},
        "efficiency": _efficiency(efficiency[efficiency["target_key"] == target_key]),
        "contributors": [_row(r, documents, found) for r in top.to_dict("records")],
        "harmful": [_row(r, documents, found) for r in bottom.to_dict("records")],
        "rollups": {
            field: _rollup(values_by(session, run_key, target_key, field), field)
            for field in ROLLUP_FIELDS
        },
        "trajectories": sorted(  # in Python: SQL collations order keys differently
            [key, int(step), float(value)]
            for step, key, value in trajectories(session, run_key, target_key).itertuples(
                index=False
            )
        ),
        "evidence_method": evidence_method(),
        "manifest": manifest(session, run, run_dir),
    }


def envelope(report: dict) -> dict:
    """The JSON file's value: the report, its hash and the hash of each section."""
    return {
        "report": report,
        "sha256": sha256(report),
        "sections": {name: sha256(section) for name, section in report.items()},
    }


def _run_section(session: Session, run: Run) -> dict:
    parent = session.get(Run, run.parent_run_id) if run.parent_run_id is not None else None
    return {
        "key": run.run_key,
        "kind": run.kind.value,
        "status": run.status.value,
        "parent": parent.run_key if parent else None,
        "committed_step": run.committed_step,
        "model": run.recipe.get("model"),
        "created": run.recipe.get("created"),
    }


def _method(recipe: dict) -> dict:
    config = recipe.get("config", {})
    optimizer = config.get("optimizer")
    adam = optimizer == "adamw" and config.get("accounting", "auto") != "sgd_proxy"
    approximations = [APPROXIMATIONS.get(config.get("order"), "unknown order")]
    if adam:
        approximations += [
            "Adam-aware values hold the step's optimizer state fixed; momentum is credited at "
            "the step where a gradient entered it; decoupled weight decay is attributed to no "
            "document (DESIGN 2.4)",
        ]
    if config.get("max_grad_norm"):
        approximations.append("values scaled by the step's gradient-clipping factor")
    reference = recipe.get("reference", {})
    return {
        "order": config.get("order"),
        "optimizer": optimizer,
        "values": _values_kind(adam, optimizer),
        "reference": {
            "kind": reference.get("kind"),
            "documents": list(reference.get("doc_ids", [])),
        },
        "ranked_by": "specific (target minus reference, DESIGN 2.4b)",
        "units": UNITS,
        "approximations": approximations,
    }


def _values_kind(adam: bool, optimizer: str | None) -> str:
    if adam:
        return "Adam-aware (DESIGN 2.4)"
    if optimizer == "adamw":
        return "SGD proxy: the paper's lr g_v . g_i, whatever AdamW applied (DESIGN 2.4)"
    return "SGD closed form (DESIGN 2.2)"


def _efficiency(frame) -> dict:
    frame = frame.sort_values("step")
    losses = frame["target_loss"].tolist()
    return {
        "steps": len(frame),
        "values_sum": math.fsum(frame["values_sum"].tolist()),
        "predicted_drop": math.fsum(frame["predicted_drop"].tolist()),
        "loss_before_first_step": losses[0] if losses else None,
        "loss_before_last_step": losses[-1] if losses else None,
        "note": "the sum of values equals the first-order predicted drop under SGD; under AdamW "
        "with a large learning rate they differ (DESIGN 2.4)",
    }


def _documents(session: Session, run: Run, keys: list[str]) -> dict[str, Document]:
    rows = session.execute(
        select(Document).where(Document.corpus_id == run.corpus_id, Document.doc_key.in_(keys))
    ).scalars()
    return {d.doc_key: d for d in rows}


def _row(ranked: dict, documents: dict[str, Document], found: dict[str, EvidenceRecord]) -> dict:
    doc = documents[ranked["doc_key"]]
    share = ranked["share"]
    return {
        "rank": int(ranked["rank"]),
        "doc_key": doc.doc_key,
        "specific": float(ranked["specific_value"]),
        "raw": float(ranked["raw_value"]),
        "share": None if share is None or math.isnan(share) else float(share),
        "title": doc.title,
        "source": doc.source,
        "author": doc.author,
        "license": doc.license,
        "url": doc.url,
        "date": doc.date,
        "sha256": doc.sha256,
        "text": doc.text,
        "evidence": _evidence(found.get(doc.doc_key)),
    }


def _evidence(record: EvidenceRecord | None) -> dict | None:
    if record is None:
        return None
    span = None
    if record.span_words:
        span = {
            "words": record.span_words,
            "target": [record.target_start, record.target_end],
            "document": [record.document_start, record.document_end],
        }
    return {
        "label": {"paraphrase": "close paraphrase"}.get(record.label, record.label),
        "longest_span": span,
        "ngram_overlap": record.ngram_overlap,
        "similarity": record.similarity,
        "bm25": record.bm25,
        "ranges": record.ranges,
    }


def _rollup(frame, field: str) -> list[dict]:
    return [
        {
            field: row[field],
            "documents": int(row["documents"]),
            "specific": float(row["specific"]),
            "raw": float(row["raw"]),
            "share": None if math.isnan(row["share"]) else float(row["share"]),
            # Removing the group's documents removes the sum of their raw values from the
            # target-loss reduction, to first order (DESIGN 6).
            "takedown_estimate": float(row["raw"]),
        }
        for row in frame.to_dict("records")
    ]
