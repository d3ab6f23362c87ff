"""Provenance reports a third party can verify.

`read_report_input` reads one (run, target) report's input from the ledger once,
`build_report` turns it into plain JSON data (a pure function), `envelope` adds its SHA-256
and per-section hashes, `prepare_report` does those three, `render` writes JSON (canonical,
RFC 8785), HTML, PDF or CSV, `export_report` renders a prepared report to a file and
records it in the ledger, `verify` recomputes every hash and number it can, and `verdict`
says what that proved. The evidence a report shows is gathered by provenance/evidence.py.
"""

from provenance.canonical import canonical, sha256
from provenance.reports.build import build_report, envelope
from provenance.reports.checks import Check, Verdict, failed, skipped, verdict
from provenance.reports.export import export_report, export_reports, prepare_report, render
from provenance.reports.report_input import ReportInput, read_report_input
from provenance.reports.verify import ReportRefused, verify

__all__ = [
    "Check",
    "ReportInput",
    "ReportRefused",
    "Verdict",
    "build_report",
    "canonical",
    "envelope",
    "export_report",
    "export_reports",
    "failed",
    "prepare_report",
    "read_report_input",
    "render",
    "sha256",
    "skipped",
    "verdict",
    "verify",
]
