"""The CSV report: one row per shown document (contributors, then harmful ones), with its
evidence, for spreadsheets. Comment lines (starting '#') at the top name the run, the target
and the SHA-256 of the JSON report it was made from; the full manifest is in the JSON. No
cell runs as a formula in a spreadsheet (`provenance.csv_safety.safe_cell` on every cell,
the comment lines included)."""

from __future__ import annotations

import csv
import io

from provenance.csv_safety import LINE_END, safe_cell

COLUMNS = [
    "section",
    "rank",
    "doc_key",
    "specific",
    "raw",
    "share",
    "label",
    "span_words",
    "span_target_start",
    "span_target_end",
    "span_document_start",
    "span_document_end",
    "ngram_overlap",
    "similarity",
    "bm25",
    "title",
    "source",
    "author",
    "license",
    "url",
    "sha256",
]


def render_csv(document: dict) -> bytes:
    report = document["report"]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator=LINE_END)
    # Comment lines are CSV rows of one cell each: a comma or quote in an id stays inside it.
    for line in (
        f"# provenance report of run {_one_line(report['run']['key'])}",
        f"# target {_one_line(report['target']['key'])}",
        f"# report SHA-256 {document['sha256']}",
        f"# corpus SHA-256 {report['manifest']['corpus']['sha256']}",
        f"# units: {report['method']['units']}",
    ):
        writer.writerow([line])
    writer.writerow(COLUMNS)
    for section in ("contributors", "harmful"):
        for r in report[section]:
            ev = r["evidence"] or {}
            span = ev.get("longest_span") or {}
            writer.writerow(
                safe_cell(cell)
                for cell in [
                    section,
                    r["rank"],
                    _cell(r["doc_key"]),
                    repr(r["specific"]),
                    repr(r["raw"]),
                    "" if r["share"] is None else repr(r["share"]),
                    ev.get("label", ""),
                    span.get("words", 0) if ev else "",
                    *(span.get("target") or ["", ""]),
                    *(span.get("document") or ["", ""]),
                    ev.get("ngram_overlap", ""),
                    ev.get("similarity", ""),
                    ev.get("bm25", ""),
                    *(_cell(r[f]) for f in ("title", "source", "author", "license", "url")),
                    r["sha256"],
                ]
            )
    return out.getvalue().encode("utf-8")


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _cell(value: str | None) -> str:
    return "" if value is None else str(value)
