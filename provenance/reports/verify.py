"""Verify a report: recompute every hash and number that can be recomputed, and say exactly
what was proved (checks.py: verdicts and exit codes).

Checks, each named by the field it covers:
- `report file`: valid UTF-8 JSON in exactly the canonical form (else the byte and the field
  it falls in); for an HTML report, `html`: the page is byte for byte what its embedded JSON
  report renders to, so an edited value or an added paragraph fails, naming the line;
- `sha256`, `sections.<name>`: the report's hash and each section's hash. Alone, these prove
  only that the report is self-consistent: anyone can recompute them after an edit;
- with the corpus file (`corpus`): its hash and every document's (verify_files.py);
- with the run folder (`run_dir`, else `<runs_root>/<run key>`; never a path the report
  names): every file the report lists, the final weights, the replay's weight distance;
- with the ledger (`factory`): the report rebuilt from it, field by field, with the count of
  documents every export shows, and each shown document's evidence recomputed from the
  ledger's texts (verify_ledger.py).
What could not be checked here is listed as not done ("skip"), never passed over.

A PDF or CSV report, or HTML without an embedded report, is refused (`ReportRefused`).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from provenance.canonical import canonical, loads, path_at, sha256
from provenance.reports.checks import Check, not_done
from provenance.reports.html import embedded_report, render_html
from provenance.reports.verify_files import (
    compare,
    corpus_checks,
    run_file_checks,
    run_folder,
)
from provenance.reports.verify_ledger import ledger_checks

SNIPPET = 60  # characters of an HTML difference shown on each side


class ReportRefused(ValueError):
    """The file is not a report `verify` can check; the message says which file to verify."""


def verify(
    path: Path,
    *,
    factory: sessionmaker[Session] | None = None,
    corpus: Path | None = None,
    run_dir: Path | None = None,
    runs_root: Path | None = None,
) -> list[Check]:
    """Every check of the report at `path` (JSON, or HTML with the JSON embedded). The run
    folder is `run_dir`, else `runs_root / <the report's run key>` when that exists."""
    data = Path(path).read_bytes()
    if data.startswith((b"%PDF", b"# provenance report", b'"# provenance report')):
        raise ReportRefused(
            f"{path} is a PDF or CSV report: it shows numbers but cannot be recomputed. It "
            "names the SHA-256 of its JSON report: verify that one (provenance report --format "
            "json)"
        )
    if data.lstrip()[:1] == b"<":
        document, checks = _parse_html(Path(path), data)
    else:
        document, checks = _parse(data, canonical_bytes=True)
    if document is None:
        return checks
    try:
        return checks + _content_checks(document, factory, corpus, run_dir, runs_root)
    except (KeyError, TypeError, AttributeError, IndexError, RecursionError) as error:
        return [*checks, Check("report", False, f"malformed report ({error!r:.200}): altered")]


def _content_checks(document, factory, corpus, run_dir, runs_root) -> list[Check]:
    report = document["report"]
    checks = _hashes(document)
    manifest = report.get("manifest")
    manifest = manifest if isinstance(manifest, dict) else {}
    if corpus is not None:
        checks += corpus_checks(manifest.get("corpus", {}), Path(corpus))
    else:
        checks.append(
            not_done(
                "manifest.corpus.file_sha256",
                "no corpus file given; pass --corpus FILE to check the corpus file and each "
                "document's hash",
            )
        )
    folder, undone = run_folder(report, run_dir, runs_root)
    checks += undone
    if folder is not None:
        checks += run_file_checks(manifest, folder)
    if factory is not None:
        # run_dir=None: the fields read from files were checked against the files above.
        checks += ledger_checks(report, factory, None)
    else:
        checks.append(
            not_done(
                "ledger",
                "no ledger given: the ranking, values and evidence are unproven; pass --db URL",
            )
        )
    return checks


def _parse(data: bytes, canonical_bytes: bool) -> tuple[dict | None, list[Check]]:
    try:
        document = loads(data)
    except UnicodeDecodeError as error:
        return None, [
            Check(
                "report file", False, f"not UTF-8 at byte {error.start}{_near(data, error.start)}"
            )
        ]
    except json.JSONDecodeError as error:
        at = len(error.doc[: error.pos].encode("utf-8"))
        return None, [
            Check("report file", False, f"not JSON at byte {at}{_near(data, at)}: {error.msg}")
        ]
    except (ValueError, RecursionError) as error:  # NaN or Infinity, nesting beyond Python's
        return None, [Check("report file", False, f"not canonical JSON: {str(error)[:200]}")]
    if not isinstance(document, dict) or set(document) != {"report", "sha256", "sections"}:
        keys = sorted(document) if isinstance(document, dict) else type(document).__name__
        return None, [Check("report file", False, f"not a provenance report (top level {keys})")]
    if not isinstance(document["report"], dict) or not isinstance(document["sections"], dict):
        return None, [Check("report file", False, "report and sections must be objects")]
    checks = []
    if canonical_bytes:
        try:
            again = canonical(document)
        except (ValueError, TypeError) as error:
            return None, [Check("report file", False, f"not canonical JSON: {error}")]
        if again != data:
            at = next(
                (i for i, (a, b) in enumerate(zip(data, again, strict=False)) if a != b),
                min(len(data), len(again)),
            )
            field = path_at(again, at) or "report file"
            checks.append(Check(field, False, f"report file is not in canonical form at byte {at}"))
        else:
            checks.append(Check("report file", True, "canonical JSON"))
    return document, checks


def _parse_html(path: Path, page: bytes) -> tuple[dict | None, list[Check]]:
    """The report embedded in an HTML page, and whether the page is exactly its rendering."""
    embedded = embedded_report(page)
    if embedded is None:
        raise ReportRefused(
            f"{path} is HTML without an embedded provenance report; verify the JSON or HTML "
            "file that `provenance report` wrote"
        )
    document, checks = _parse(embedded, canonical_bytes=False)
    if document is None:
        return None, checks
    try:
        rendered = render_html(document)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as error:
        return None, [
            *checks,
            Check("html", False, f"the embedded report does not render ({error!r}): altered"),
        ]
    return document, [*checks, _html_check(page, rendered)]


def _html_check(page: bytes, rendered: bytes) -> Check:
    if page == rendered:
        return Check("html", True, "the page is exactly what its embedded report renders to")
    at = next(
        (i for i, (a, b) in enumerate(zip(page, rendered, strict=False)) if a != b),
        min(len(page), len(rendered)),
    )
    line = page[:at].count(b"\n") + 1
    return Check(
        "html",
        False,
        f"the page differs from what its embedded report renders to, from line {line}: the page "
        f"has {_around(page, at)}, the report renders {_around(rendered, at)} (an edited page, "
        "or a report rendered by another version of provenance: verify its JSON report)",
    )


def _around(data: bytes, at: int) -> str:
    return repr(data[at : at + SNIPPET].decode("utf-8", "replace"))


def _near(data: bytes, at: int) -> str:
    """' (in field "name")': the last key written before byte `at` of canonical JSON."""
    keys = re.findall(rb'"((?:[^"\\]|\\.)*)":', data[:at])
    return f' (in or after field "{keys[-1].decode("utf-8", "replace")}")' if keys else ""


def _hashes(document: dict) -> list[Check]:
    report, sections = document["report"], document["sections"]
    checks = []
    for name in sorted(set(report) | set(sections)):
        if name not in sections or name not in report:
            checks.append(
                Check(
                    f"sections.{name}",
                    False,
                    "section without its hash or hash without its section",
                )
            )
            continue
        actual = sha256(report[name])
        checks.append(
            Check(f"sections.{name}", actual == sections[name], compare(sections[name], actual))
        )
    actual = sha256(report)
    checks.append(
        Check("sha256", actual == document["sha256"], compare(document["sha256"], actual))
    )
    return checks
