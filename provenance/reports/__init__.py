"""Provenance reports a third party can verify (DESIGN 7).

`build_report` gathers one (run, target) report from the ledger as plain JSON data,
`envelope` adds its SHA-256 and per-section hashes, `render` writes JSON (canonical, RFC 8785
style), HTML, PDF or CSV, `export_report` does both and records the file in the ledger, and
`verify` recomputes every hash it can. `ensure_evidence` computes and caches the evidence
the UI shows beside a ranking.
"""

from provenance.evidence import ensure_evidence, evidence_version
from provenance.reports.build import build_report, envelope
from provenance.reports.canonical import canonical, sha256
from provenance.reports.export import export_report, render, render_report
from provenance.reports.verify import Check, failed, verify

__all__ = [
    "Check",
    "build_report",
    "canonical",
    "ensure_evidence",
    "envelope",
    "evidence_version",
    "export_report",
    "failed",
    "render",
    "render_report",
    "sha256",
    "verify",
]
