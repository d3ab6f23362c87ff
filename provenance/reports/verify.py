"""Verify a JSON report: recompute every hash that can be recomputed and say what matches.

Checks, each named by the field it covers:
- `report file`: valid UTF-8 JSON in exactly the canonical form (else the byte and the field
  it falls in);
- `sha256`, `sections.<name>`: the report's hash and each section's hash;
- with the corpus file: `manifest.corpus.file_sha256`, every
  `manifest.corpus.documents[<doc_key>].sha256` and `manifest.corpus.sha256`;
- with the run directory (given, or the report's `manifest.run_dir` when it exists):
  `manifest.run_files[<path>]` for every file, and `manifest.final_weights_sha256` from the
  saved final model;
- with the ledger: the report rebuilt from it, compared field by field (`report.<path>`);
  code and package versions of the exporter are reported but do not fail the check.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from db.session import session_scope
from provenance.canonical import canonical, path_at, render_path, sha256
from provenance.recipe import RecipeError
from provenance.reports.build import build_report
from provenance.reports.html import embedded_report
from provenance.reports.manifest import ENVIRONMENT, FROM_FILES, file_sha256
from provenance.reports.report_input import read_report_input

MAX_DIFFS = 20  # differing ledger fields listed one by one; the rest are counted


@dataclass(frozen=True)
class Check:
    field: str
    ok: bool
    detail: str
    fails: bool = True  # False: informational (a difference that does not fail verification)

    def __str__(self) -> str:
        mark = "ok  " if self.ok else ("FAIL" if self.fails else "note")
        return f"{mark} {self.field}: {self.detail}"


def failed(checks: list[Check]) -> list[Check]:
    return [c for c in checks if not c.ok and c.fails]


def verify(
    path: Path,
    *,
    factory: sessionmaker[Session] | None = None,
    corpus: Path | None = None,
    run_dir: Path | None = None,
    recorded_run_dir: bool = True,
) -> list[Check]:
    """Every check of the report at `path` (JSON, or HTML with the JSON embedded). The run
    directory's files are checked in `run_dir`, else (recorded_run_dir) in the report's own
    `manifest.run_dir` when that exists."""
    data = Path(path).read_bytes()
    if data.startswith((b"%PDF", b"# provenance report")):
        return [
            Check(
                "report file",
                False,
                "a PDF or CSV report shows numbers but cannot be recomputed; it names the SHA-256 "
                "of its JSON report: verify that one (provenance report --format json)",
            )
        ]
    if data.lstrip()[:1] == b"<":  # an HTML report: check the JSON report it embeds
        data = embedded_report(data) or b""
        document, checks = _parse(data, canonical_bytes=False)
    else:
        document, checks = _parse(data, canonical_bytes=True)
    if document is None:
        return checks
    report = document["report"]
    checks += _hashes(document)
    manifest = report.get("manifest")
    manifest = manifest if isinstance(manifest, dict) else {}
    if corpus is not None:
        checks += _corpus(manifest.get("corpus", {}), Path(corpus))
    run_path = Path(run_dir) if run_dir else None
    recorded = manifest.get("run_dir") if recorded_run_dir else None
    if run_path is None and isinstance(recorded, str) and Path(recorded).is_dir():
        run_path = Path(recorded)
    if run_path is not None:
        checks += _run_files(manifest, run_path)
    if factory is not None:
        checks += _ledger(report, factory, run_path)
    return checks


def _parse(data: bytes, canonical_bytes: bool) -> tuple[dict | None, list[Check]]:
    try:
        document = json.loads(data.decode("utf-8"))
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
    if not isinstance(document, dict) or set(document) != {"report", "sha256", "sections"}:
        keys = sorted(document) if isinstance(document, dict) else type(document).__name__
        return None, [Check("report file", False, f"not a provenance report (top level {keys})")]
    if not isinstance(document["report"], dict) or not isinstance(document["sections"], dict):
        return None, [Check("report file", False, "report and sections must be objects")]
    checks = []
    if canonical_bytes:
        again = canonical(document)
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
            Check(f"sections.{name}", actual == sections[name], _compare(sections[name], actual))
        )
    actual = sha256(report)
    checks.append(
        Check("sha256", actual == document["sha256"], _compare(document["sha256"], actual))
    )
    return checks


def _compare(recorded, actual) -> str:
    return (
        f"matches {actual}" if recorded == actual else f"recorded {recorded}, recomputed {actual}"
    )


def _corpus(recorded: dict, path: Path) -> list[Check]:
    from attribution_engine.corpus import load_corpus

    checks = [
        Check(
            "manifest.corpus.file_sha256",
            file_sha256(path) == recorded.get("file_sha256"),
            _compare(recorded.get("file_sha256"), file_sha256(path)),
        )
    ]
    try:
        corpus = load_corpus(path, lenient=bool(recorded.get("lenient")))
    except ValueError as error:
        return [*checks, Check("manifest.corpus", False, f"{path} does not load: {error}")]
    actual = {d.id: d.sha256 for d in corpus.documents}
    listed = {d["doc_key"]: d["sha256"] for d in recorded.get("documents", [])}
    for key in sorted(set(actual) | set(listed)):
        field = f"manifest.corpus.documents[{key}].sha256"
        if key not in actual:
            checks.append(Check(field, False, f"document {key!r} is not in {path}"))
        elif key not in listed:
            checks.append(Check(field, False, f"{path} has document {key!r} the report lacks"))
        elif actual[key] != listed[key]:
            checks.append(Check(field, False, _compare(listed[key], actual[key])))
    mismatched = sum(1 for c in checks[1:] if not c.ok)
    checks.append(
        Check(
            "manifest.corpus.documents",
            mismatched == 0,
            f"{len(actual)} documents, {mismatched} differ",
        )
    )
    checks.append(
        Check(
            "manifest.corpus.sha256",
            corpus.sha256 == recorded.get("sha256"),
            _compare(recorded.get("sha256"), corpus.sha256),
        )
    )
    return checks


def _run_files(manifest: dict, run_dir: Path) -> list[Check]:
    recorded = manifest.get("run_files", {})
    checks = []
    for name in sorted(recorded):
        field = f"manifest.run_files[{name}]"
        path = run_dir / name
        if not path.is_file():
            checks.append(Check(field, False, f"{path} is missing"))
            continue
        actual = file_sha256(path)
        checks.append(Check(field, actual == recorded[name], _compare(recorded[name], actual)))
    final = manifest.get("final_weights_sha256")
    if final and (run_dir / "model" / "config.json").is_file():
        checks.append(_final_weights(run_dir / "model", final))
    return checks


def _final_weights(model_dir: Path, recorded: str) -> Check:
    from attribution_engine.models import load_local_model, weights_sha256

    field = "manifest.final_weights_sha256"
    try:
        model, _ = load_local_model(model_dir)
    except (OSError, ValueError, RuntimeError) as error:
        return Check(field, False, f"the final model in {model_dir} does not load: {error}")
    return Check(
        field, weights_sha256(model) == recorded, _compare(recorded, weights_sha256(model))
    )


def _ledger(report: dict, factory: sessionmaker[Session], run_dir: Path | None) -> list[Check]:
    try:
        run_key, target_key = report["run"]["key"], report["target"]["key"]
        with session_scope(factory) as session:
            data = read_report_input(
                session,
                run_key,
                target_key,
                run_dir=run_dir,
                k=int(report["method"]["documents_shown"]),
                compute_evidence=False,
            )
        rebuilt = build_report(data)
    except (KeyError, TypeError, LookupError, RecipeError) as error:
        return [Check("report.run", False, f"cannot rebuild the report from the ledger: {error}")]
    differences = [
        d for d in _diff(report, rebuilt, ("report",)) if not _from_files(d[0])
    ]  # file-derived fields are checked against the files themselves
    checks = []
    failing = [(p, a, b) for p, a, b in differences if not _environment(p)]
    for path, recorded, actual in differences[:MAX_DIFFS]:
        checks.append(
            Check(
                render_path(path),
                False,
                f"report has {_short(recorded)}, ledger gives {_short(actual)}",
                fails=not _environment(path),
            )
        )
    if len(differences) > MAX_DIFFS:
        checks.append(
            Check(
                "report",
                False,
                f"{len(differences) - MAX_DIFFS} more fields differ from the ledger",
            )
        )
    checks.append(
        Check(
            "ledger",
            not failing,
            "every field matches the ledger"
            if not failing
            else f"{len(failing)} field(s) differ from the ledger",
        )
    )
    return checks


def _from_files(path: tuple) -> bool:
    return path[1:2] == ("manifest",) and any(path[2 : 2 + len(f)] == f for f in FROM_FILES)


def _environment(path: tuple) -> bool:
    return len(path) >= 3 and path[1] == "manifest" and path[2] in ENVIRONMENT


def _diff(a, b, path: tuple):
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            if key not in a or key not in b:
                yield (*path, key), a.get(key, "<missing>"), b.get(key, "<missing>")
            else:
                yield from _diff(a[key], b[key], (*path, key))
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            yield from _diff(x, y, (*path, i))
    elif canonical(a) != canonical(b):  # 2 and 2.0 are one JSON number
        yield path, a, b


def _short(value) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 80 else text[:77] + "..."
