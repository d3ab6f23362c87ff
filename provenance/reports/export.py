"""Assemble a report, render it, export it to a file and record it in the ledger.

`prepare_report` is the one assembly (the CLI's export and the UI's download both use it):
evidence computed outside any write transaction, the input read once, the report built and
enveloped. Every format is rendered from that envelope, so the HTML, PDF and CSV name the
SHA-256 of the JSON report whose numbers they show; rendering happens after the transaction
(a PDF's charts take seconds). The reports table stores the SHA-256 of the file's own bytes
and its path.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Literal

from sqlalchemy.orm import Session, sessionmaker

from db.catalog import record_report
from db.models import ReportFormat
from db.session import session_scope
from provenance.canonical import canonical, loads
from provenance.evidence import Progress
from provenance.reports.build import build_report, envelope, require_values
from provenance.reports.csv import render_csv
from provenance.reports.html import render_html
from provenance.reports.manifest import file_sha256
from provenance.reports.pdf import render_pdf
from provenance.reports.report_input import fill_report_evidence, read_report_input

Format = Literal["json", "html", "pdf", "csv"]
RENDERERS = {"json": canonical, "html": render_html, "pdf": render_pdf, "csv": render_csv}


def render(document: dict, fmt: Format) -> bytes:
    """The bytes of a report envelope in one format: a function of its canonical JSON alone
    (rendered from that JSON read back, keys in canonical order), so that `verify` can render
    an HTML report again from the JSON it embeds and compare the bytes."""
    if fmt not in RENDERERS:
        raise ValueError(f"format must be one of {sorted(RENDERERS)}, not {fmt!r}")
    data = canonical(document)
    return data if fmt == "json" else RENDERERS[fmt](loads(data))


def prepare_report(
    factory: sessionmaker[Session],
    run_key: str,
    target_key: str,
    *,
    run_dir: Path | None = None,
    progress: Progress | None = None,
) -> dict:
    """The envelope of the report of (run, target). The shown documents are ranked once and
    their missing evidence computed first, outside the write lock (`progress(done, total)`
    hears of it); the input is then read in one short write transaction (evidence that
    appeared meanwhile is stored there). `factory` makes write sessions. NoValuesError when
    the target has no values yet (nothing to report)."""
    shown = fill_report_evidence(factory, run_key, target_key, progress=progress)
    with session_scope(factory) as session:
        data = read_report_input(session, run_key, target_key, run_dir=run_dir, documents=shown)
    require_values(data)
    return envelope(build_report(data))


def export_report(
    factory: sessionmaker[Session],
    run_key: str,
    target_key: str,
    fmt: Format,
    path: Path,
    *,
    run_dir: Path | None = None,
) -> str:
    """Write the report of (run, target) to `path` (atomically) and record it; returns the
    report's SHA-256 (that of its canonical JSON, the same for every format)."""
    return export_reports(factory, run_key, target_key, {fmt: path}, run_dir=run_dir)["sha256"]


def export_reports(
    factory: sessionmaker[Session],
    run_key: str,
    target_key: str,
    paths: dict[Format, Path],
    *,
    run_dir: Path | None = None,
) -> dict:
    """Prepare the report of (run, target) once and write it in each format to its path
    (atomically), recording every file; returns the envelope (`sha256`: the report's hash,
    `sections["manifest"]`: its manifest's)."""
    document = prepare_report(factory, run_key, target_key, run_dir=run_dir)
    for fmt, path in paths.items():
        _write_atomic(path, render(document, fmt))
        with session_scope(factory) as session:
            record_report(
                session,
                run_key,
                target_key,
                ReportFormat(fmt),
                file_sha256(path),
                str(Path(path).resolve()),
            )
    return document


def _write_atomic(path: Path, data: bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; a report is meant to be shared
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
