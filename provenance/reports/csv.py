"""The CSV report: one row per shown document (contributors, then harmful ones), with its
evidence, for spreadsheets. Comment lines (starting '#') at the top name the run, the target
and the SHA-256 of the JSON report it was made from; the full manifest is in the JSON."""

from __future__ import annotations

import csv
import io

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
    out.write(f"# provenance report of run {_one_line(report['run']['key'])}, ")
    out.write(f"target {_one_line(report['target']['key'])}\n")
    out.write(f"# report SHA-256 {document['sha256']}\n")
    out.write(f"# corpus SHA-256 {report['manifest']['corpus']['sha256']}\n")
    out.write(f"# units: {report['method']['units']}\n")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for section in ("contributors", "harmful"):
        for r in report[section]:
            ev = r["evidence"] or {}
            span = ev.get("longest_span") or {}
            writer.writerow(
                [
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
    # A cell starting with = + - @ is run as a formula by spreadsheets (CSV injection).
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
