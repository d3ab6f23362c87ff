"""One report as a JSON value: a pure function of its input (`report_input.ReportInput`,
read once from the ledger and the run directory).

The report is plain data (dicts, lists, str, int, float, bool, None) that `canonical` turns
into bytes, so it holds no timestamp of its own and no float NaN: the same ledger gives the
same report. Values are in nats; positive = the document lowered the target's loss.
Contributors are listed in the product's default ranking (`provenance.ranking`: training
contribution fused with word overlap), each with its exact specific value (DESIGN 2.4b), raw
value and both ranks beside it; harmful documents by specific value, lowest first.

`envelope` wraps it for the JSON file: {"report": ..., "sha256": hash of the report,
"sections": hash of each top-level section}, so `verify` names the section that changed.
"""

from __future__ import annotations

import math

import pandas as pd

from attribution_engine.train_config import TrainConfig
from db.catalog import DocumentDetail, RunInfo
from db.evidence import EvidenceRecord
from provenance.canonical import sha256
from provenance.ranking import FUSED_WORDS
from provenance.recipe import Recipe
from provenance.reference import describe, target_flag
from provenance.reports.manifest import manifest
from provenance.reports.report_input import ROLLUP_FIELDS, ReportInput

SCHEMA = "provenance-report/1"
UNITS = "nats; positive = the document lowered the target's loss"

APPROXIMATIONS = {
    1: "first-order Taylor expansion of each step's utility (DESIGN 2.2)",
    2: "second-order Taylor expansion with one Hessian-vector product per step (DESIGN 2.2)",
}


def build_report(data: ReportInput) -> dict:
    """The report of one (run, target), from its input alone."""
    return {
        "schema": SCHEMA,
        "target": {
            "key": data.target.target_key,
            "text": data.target.text,
            "prompt": data.target.prompt,
            "origin": data.target.origin.value,
            "source_flag": target_flag(data.recipe.flags, data.target.target_key),
        },
        "run": _run_section(data.run, data.recipe),
        "method": {**_method(data.recipe), "documents_shown": data.k},
        "efficiency": _efficiency(data.efficiency),
        "contributors": [
            _row(r, data.documents, data.evidence) for r in data.top.to_dict("records")
        ],
        "harmful": [_row(r, data.documents, data.evidence) for r in data.bottom.to_dict("records")],
        "rollups": {field: _rollup(data.rollups[field], field) for field in ROLLUP_FIELDS},
        "trajectories": sorted(  # in Python: SQL collations order keys differently
            [key, int(step), float(value)]
            for step, key, value in data.trajectories.itertuples(index=False)
        ),
        "evidence_method": data.evidence_method,
        "manifest": manifest(
            data.run, data.recipe, data.parent, data.corpus, data.corpus_documents, data.files
        ),
    }


def envelope(report: dict) -> dict:
    """The JSON file's value: the report, its hash and the hash of each section."""
    return {
        "report": report,
        "sha256": sha256(report),
        "sections": {name: sha256(section) for name, section in report.items()},
    }


def _run_section(run: RunInfo, recipe: Recipe) -> dict:
    return {
        "key": run.run_key,
        "kind": run.kind.value,
        "status": run.status.value,
        "parent": run.parent_run_key,
        "committed_step": run.committed_step,
        "model": recipe.model,
        "created": recipe.created,
    }


def _method(recipe: Recipe) -> dict:
    return {
        **method_of(recipe.config, recipe.accounting),
        "reference": {
            "kind": recipe.reference.kind,
            "documents": list(recipe.reference.doc_ids),
            "not_trained_on": list(recipe.reference.excluded),
            "description": describe(recipe.reference),
        },
        "ranked_by": FUSED_WORDS,
        "harmful_ranked_by": "specific value (target minus reference, DESIGN 2.4b), lowest first",
        "units": UNITS,
    }


def method_of(config: TrainConfig, accounting: str) -> dict:
    """What the values are and which approximations they carry, for a run with this config
    whose steps credited `accounting` (the recipe's resolved "adam" or "sgd_proxy")."""
    adam = accounting == "adam"
    approximations = [APPROXIMATIONS.get(config.order, "unknown order")]
    if adam:
        approximations += [
            "Adam-aware values hold the step's optimizer state fixed; momentum is credited at "
            "the step where a gradient entered it; decoupled weight decay is attributed to no "
            "document (DESIGN 2.4)",
        ]
    if config.max_grad_norm:
        approximations.append("values scaled by the step's gradient-clipping factor")
    return {
        "order": config.order,
        "optimizer": config.optimizer,
        "values": _values_kind(adam, config.optimizer),
        "approximations": approximations,
    }


def _values_kind(adam: bool, optimizer: str | None) -> str:
    if adam:
        return "Adam-aware (DESIGN 2.4)"
    if optimizer == "adamw":
        return "SGD proxy: the paper's lr g_v . g_i, whatever AdamW applied (DESIGN 2.4)"
    return "SGD closed form (DESIGN 2.2)"


def _efficiency(frame) -> dict:
    """Sums over the stored steps (nats). values_sum + optimizer_terms + decay_drop =
    predicted_drop, exactly; the measured drop differs from the prediction by higher-order
    terms (losses before the first and the last step are given)."""
    frame = frame.sort_values("step")
    losses = frame["target_loss"].tolist()
    values, predicted = math.fsum(frame["values_sum"]), math.fsum(frame["predicted_drop"])
    decay = None if frame["decay_drop"].isna().any() else math.fsum(frame["decay_drop"])
    return {
        "steps": len(frame),
        "values_sum": values,
        "optimizer_terms": None if decay is None else predicted - decay - values,
        "decay_drop": decay,
        "predicted_drop": predicted,
        "loss_before_first_step": losses[0] if losses else None,
        "loss_before_last_step": losses[-1] if losses else None,
        "note": "values_sum is what the documents are credited with; optimizer_terms is the part "
        "of the applied update that is not (momentum applying each gradient over later steps, "
        "where it is credited in full at the step it entered); decay_drop is weight decay's "
        "part, credited to no document; their sum is predicted_drop, the first-order drop from "
        "the update actually applied (null: not measured for these steps; DESIGN 2.4)",
    }


def _row(
    ranked: dict, documents: dict[str, DocumentDetail], found: dict[str, EvidenceRecord]
) -> dict:
    doc = documents[ranked["doc_key"]]
    share = ranked["share"]
    return {
        "rank": int(ranked["rank"]),
        "rank_by_value": _rank(ranked.get("rank_by_value")),
        "rank_by_words": _rank(ranked.get("rank_by_words")),
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
        "evidence": evidence_entry(found.get(doc.doc_key)),
    }


def _rank(rank: object) -> int | None:
    """A 1-based rank, or None where the row's ranking does not have it."""
    return None if rank is None or pd.isna(rank) else int(rank)


def evidence_entry(record: EvidenceRecord | None) -> dict | None:
    """A document's evidence as the report shows it (None: not computed)."""
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
