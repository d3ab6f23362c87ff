"""One report as a JSON value: a pure function of its input (`report_input.ReportInput`,
read once from the ledger and the run directory).

The report is plain data (dicts, lists, str, int, float, bool, None) that `canonical` turns
into bytes, so it holds no timestamp of its own and no float NaN: the same ledger gives the
same report. Values are in nats; positive = the document lowered the target's loss.
Contributors are listed in the product's default ranking (`provenance.ranking`: training
contribution fused with word overlap), each with its exact specific value (target minus
reference), raw value and both ranks beside it; harmful documents by specific value, lowest
first.

Every number says no more than it measures: a share (of the target's positive specific value)
exists only for a positive value, so a harmful row has none; a roll-up's takedown estimate is
the first-order sum of its documents' raw values, bounded by the measured drop of the target's
loss and flagged where the sum exceeds it.

`envelope` wraps it for the JSON file: {"report": ..., "sha256": hash of the report,
"sections": hash of each top-level section}, so `verify` names the section that changed.
"""

from __future__ import annotations

import pandas as pd

from attribution_engine.train_config import TrainConfig
from db.catalog import DocumentDetail, RunInfo
from db.evidence import EvidenceRecord
from db.models import RunStatus
from db.rankings import EfficiencyCheck
from provenance.canonical import sha256
from provenance.efficiency import verdict
from provenance.ranking import FUSED_WORDS
from provenance.recipe import Recipe
from provenance.reference import describe, target_flag
from provenance.reports.manifest import manifest
from provenance.reports.report_input import ROLLUP_FIELDS, ReportInput

SCHEMA = "provenance-report/2"
UNITS = "nats; positive = the document lowered the target's loss"
REFERENCE = (
    'Wang, Jiachen T. et al., "Data Shapley in One Training Run", ICLR 2025 (In-Run Data Shapley)'
)

APPROXIMATIONS = {
    1: "first-order Taylor expansion of each training step's effect on the target's loss",
    2: "second-order Taylor expansion of each training step's effect on the target's loss "
    "(one Hessian-vector product per step)",
}


class NoValuesError(ValueError):
    """The target has no attribution values yet: a report would have nothing to show."""


def build_report(data: ReportInput) -> dict:
    """The report of one (run, target), from its input alone."""
    check = data.efficiency
    measured = check.realised_drop if check is not None else None
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
        "efficiency": _efficiency(check),
        "contributors": [
            _row(r, data.documents, data.evidence) for r in data.top.to_dict("records")
        ],
        "harmful": [_row(r, data.documents, data.evidence) for r in data.bottom.to_dict("records")],
        "rollups": {
            field: _rollup(data.rollups[field], field, measured) for field in ROLLUP_FIELDS
        },
        "trajectories": sorted(  # in Python: SQL collations order keys differently
            [key, int(step), float(value)]
            for step, key, value in data.trajectories.itertuples(index=False)
        ),
        "evidence_method": data.evidence_method,
        "manifest": manifest(
            data.run, data.recipe, data.parent, data.corpus, data.corpus_documents, data.files
        ),
    }


def require_values(data: ReportInput) -> None:
    """NoValuesError when the target has no value to report (e.g. a run at step 0)."""
    if data.top.empty and data.bottom.empty:
        raise NoValuesError(
            f"no report of target {data.target.target_key!r} in run {data.run.run_key!r}: the "
            f"ledger holds no attribution values for it yet (run {data.run.status.value}, "
            f"committed step {data.run.committed_step}); wait until the run has committed "
            "values (the UI's Runs page shows its step), then export again"
        )


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
        # A report of an unfinished run shows values up to committed_step of total_steps and
        # says so on every page; they change as training goes on.
        "finished": run.status == RunStatus.DONE,
        "parent": run.parent_run_key,
        "committed_step": run.committed_step,
        "total_steps": recipe.total_steps,
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
        "harmful_ranked_by": "specific value (target minus reference), lowest first",
        "units": UNITS,
        "citation": REFERENCE,
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
            "document",
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
        return "Adam-aware: each step's effect through the AdamW update actually applied"
    if optimizer == "adamw":
        return "SGD proxy: learning rate times the gradient dot product, whatever AdamW applied"
    return "SGD closed form: learning rate times the gradient dot product"


def _efficiency(check: EfficiencyCheck | None) -> dict | None:
    """Sums over the stored steps (nats), or None when fewer than two steps are stored:
    documents' values + optimizer terms + weight decay = first-order prediction, exactly;
    prediction + higher-order terms = the measured drop of the target's loss."""
    if check is None:
        return None
    return {
        "steps": check.steps,
        "values_sum": check.values_sum,
        "optimizer_terms": check.optimizer_terms,
        "decay_drop": check.decay_drop,
        "predicted_drop": check.predicted_drop,
        "higher_order": check.higher_order,
        "measured_drop": check.realised_drop,
        "verdict": verdict(check),
    }


def _row(
    ranked: dict, documents: dict[str, DocumentDetail], found: dict[str, EvidenceRecord]
) -> dict:
    doc = documents[ranked["doc_key"]]
    specific = float(ranked["specific_value"])
    return {
        "rank": int(ranked["rank"]),
        "rank_by_value": _rank(ranked.get("rank_by_value")),
        "rank_by_words": _rank(ranked.get("rank_by_words")),
        "doc_key": doc.doc_key,
        "specific": specific,
        "raw": float(ranked["raw_value"]),
        # Share of the target's positive specific value: only a positive value has one.
        "share": _share(ranked["share"]) if specific > 0 else None,
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


def _share(share: object) -> float | None:
    return None if share is None or pd.isna(share) else float(share)


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


def _rollup(frame, field: str, measured_drop: float | None) -> list[dict]:
    return [
        {
            field: row[field],
            "documents": int(row["documents"]),
            "specific": float(row["specific"]),
            "raw": float(row["raw"]),
            "share": _share(row["share"]) if row["specific"] > 0 else None,
            "takedown": takedown(float(row["raw"]), measured_drop),
        }
        for row in frame.to_dict("records")
    ]


def takedown(raw: float, measured_drop: float | None) -> dict:
    """What removing a group's documents would take from the drop of the target's loss (nats).

    To first order it is the sum of their raw values (each step's effect, added as if every
    document acted alone); it cannot be more than the drop that was measured, so the estimate
    is that sum bounded by the measured drop, and `exceeds_measured_drop` says when the
    bound applied (the first-order sum then overstates what removal would change)."""
    exceeds = measured_drop is not None and raw > measured_drop
    return {
        "first_order": raw,
        "estimate": measured_drop if exceeds else raw,
        "measured_drop": measured_drop,
        "exceeds_measured_drop": exceeds,
    }
