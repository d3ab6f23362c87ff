"""The checks of a report against a ledger: the report rebuilt from the ledger (ranking,
values, shown-document count, every field) and its evidence recomputed from the ledger's texts.

- The rebuild shows as many documents as every export does (`TOP_K`), whatever the report's
  `method.documents_shown` says: a report that shows 0 (or 3) to hide contributors differs
  from the ledger in that field and in its lists.
- Evidence rows in the ledger are not proof (a role that can write them can relabel a
  document "verbatim"): each shown document's evidence is computed again from the target and
  document texts the ledger holds, with no cached embedding, and compared with the report's.
- Fields the exporter read from files (`manifest.FROM_FILES`) are checked against the files
  (verify_files.py); the exporter's code and package versions are notes that do not fail.
"""

from __future__ import annotations

import json
import math

from sqlalchemy.orm import Session, sessionmaker

from db.session import read_only, session_scope
from provenance.canonical import canonical, render_path
from provenance.evidence import BM25_MAX_DOCUMENTS, recompute_evidence
from provenance.recipe import RecipeError
from provenance.reports.build import build_report
from provenance.reports.build import evidence_entry as evidence_dict  # the report's own form
from provenance.reports.checks import Check, not_done
from provenance.reports.manifest import ENVIRONMENT, FROM_FILES
from provenance.reports.report_input import TOP_K, read_report_input

MAX_DIFFS = 20  # differing ledger fields listed one by one; the rest are counted
SIMILARITY_TOLERANCE = 1e-5  # cosine from float32 embeddings computed in another batch


def ledger_checks(report: dict, factory: sessionmaker[Session], run_dir) -> list[Check]:
    try:
        run_key, target_key = report["run"]["key"], report["target"]["key"]
        with session_scope(read_only(factory)) as session:
            data = read_report_input(
                session,
                run_key,
                target_key,
                run_dir=run_dir,
                k=TOP_K,
                compute_evidence=False,
                read_corpus_file=False,
            )
        rebuilt = build_report(data)
    except (KeyError, TypeError, LookupError, RecipeError) as error:
        return [Check("report.run", False, f"cannot rebuild the report from the ledger: {error}")]
    checks = [_documents_shown(report, rebuilt)]
    differences = [
        d for d in _diff(report, rebuilt, ("report",)) if not _from_files(d[0])
    ]  # file-derived fields are checked against the files themselves
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
        checks.append(Check("report", False, f"{len(differences) - MAX_DIFFS} more fields differ"))
    checks.append(
        Check(
            "ledger",
            not failing,
            "every field matches the ledger"
            if not failing
            else f"{len(failing)} field(s) differ from the ledger",
        )
    )
    return checks + evidence_checks(report, factory)


def evidence_checks(report: dict, factory: sessionmaker[Session]) -> list[Check]:
    """Each shown document's evidence recomputed from the ledger's texts and compared."""
    shown = [
        (section, i, row)
        for section in ("contributors", "harmful")
        for i, row in enumerate(report.get(section) or [])
        if isinstance(row, dict) and row.get("evidence") is not None
    ]
    if not shown:
        return [Check("evidence", True, "the report shows no evidence")]
    try:
        with session_scope(read_only(factory)) as session:
            fresh = recompute_evidence(
                session,
                report["run"]["key"],
                report["target"]["key"],
                [row["doc_key"] for _, _, row in shown],
            )
            documents = len(report["manifest"]["corpus"]["documents"])
    except (KeyError, TypeError, LookupError) as error:
        return [Check("evidence", False, f"cannot recompute evidence from the ledger: {error}")]
    checks, differing = [], 0
    for section, i, row in shown:
        field = f"report.{section}[{i}].evidence"
        record = fresh.get(row["doc_key"])
        if record is None:
            checks.append(Check(field, False, f"{row['doc_key']!r} is not in the run's corpus"))
            differing += 1
            continue
        problems = _evidence_differs(row["evidence"], evidence_dict(record), documents)
        if problems:
            differing += 1
            checks.append(Check(field, False, "; ".join(problems)))
    checks.append(
        Check(
            "evidence",
            differing == 0,
            f"{len(shown)} documents' evidence recomputed from the ledger's texts, "
            f"{differing} differ",
        )
    )
    if documents > BM25_MAX_DOCUMENTS:
        checks.append(
            not_done(
                "evidence.bm25",
                f"the corpus has more than {BM25_MAX_DOCUMENTS} documents, so BM25 was scored "
                "over the documents scored at export time; it cannot be recomputed",
            )
        )
    return checks


def _evidence_differs(shown: dict, fresh: dict, documents: int) -> list[str]:
    out = []
    for key in sorted(set(shown) | set(fresh)):
        a, b = shown.get(key), fresh.get(key)
        if key == "bm25" and documents > BM25_MAX_DOCUMENTS:
            continue
        if key == "similarity" and isinstance(a, float) and isinstance(b, float):
            same = math.isclose(a, b, rel_tol=0, abs_tol=SIMILARITY_TOLERANCE)
        else:
            same = canonical(a) == canonical(b)
        if not same:
            out.append(f"{key}: report has {_short(a)}, recomputed {_short(b)}")
    return out


def _from_files(path: tuple) -> bool:
    return path[1:2] == ("manifest",) and any(path[2 : 2 + len(f)] == f for f in FROM_FILES)


def _environment(path: tuple) -> bool:
    return len(path) >= 3 and path[1] == "manifest" and path[2] in ENVIRONMENT


def _documents_shown(report: dict, rebuilt: dict) -> Check:
    shown = (report.get("method") or {}).get("documents_shown")
    expected = rebuilt["method"]["documents_shown"]
    return Check(
        "report.method.documents_shown",
        shown == expected,
        f"{shown}, as every export shows"
        if shown == expected
        else f"the report shows {shown!r} documents per list, every export shows {expected}: "
        "contributors may be hidden",
    )


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
