"""The checks of a report against files: the corpus file the verifier names, and the run folder.

Paths come from the verifier, never from the report (a report is untrusted input): the run
folder is `--run-dir`, else `<runs root>/<the report's run key>` where the key must be a run
id (no '/', no '..'); every file the report lists is read only when it resolves inside that
folder (no '../', no absolute path, no symlink out of it). The report's own `manifest.run_dir`
and `manifest.corpus.path` are what the exporter saw, shown and compared with the ledger,
never opened. The final model is loaded only from `model.safetensors` in that folder (no
pickle), and only to recompute its weights hash.
"""

from __future__ import annotations

import re
from pathlib import Path

from provenance.canonical import canonical
from provenance.reports.checks import Check, not_done
from provenance.reports.manifest import file_sha256

# A run id as provenance/runs.py makes them: a folder name under <out>/runs, never a path.
RUN_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")
RUN_FILES_FIELDS = (
    "manifest.run_files",
    "manifest.final_weights_sha256",
    "manifest.replay.weight_distance",
)


def compare(recorded, actual) -> str:
    return (
        f"matches {actual}" if recorded == actual else f"recorded {recorded}, recomputed {actual}"
    )


def run_folder(
    report: dict, run_dir: Path | None, runs_root: Path | None
) -> tuple[Path | None, list[Check]]:
    """The run folder to check the report against, or None with the checks it leaves undone
    (or a failed check when the report's run key is not a run id)."""
    if run_dir is not None:
        return Path(run_dir).resolve(), []
    key = (report.get("run") or {}).get("key")
    if not isinstance(key, str) or RUN_KEY.fullmatch(key) is None or ".." in key:
        return None, [
            Check(
                "report.run.key",
                False,
                f"{str(key)[:80]!r} is not a run id (letters, digits, '.', '_', '-'; no '/' or "
                "'..'): the report was altered; no run folder is looked up for it",
            )
        ]
    if runs_root is not None and (Path(runs_root) / key).is_dir():
        return (Path(runs_root) / key).resolve(), []
    where = f"{runs_root}/{key}" if runs_root is not None else "no runs folder was given"
    why = (
        f"run folder not found ({where}); pass --run-dir DIR (or --out DATA_DIR) to check the "
        "files the report lists"
    )
    return None, [not_done(field, why) for field in RUN_FILES_FIELDS]


def run_file_checks(manifest: dict, folder: Path) -> list[Check]:
    """Every file the report lists, hashed inside `folder`; files of the folder the report
    does not list; the final model's weights hash; the replay's weight distance."""
    recorded = manifest.get("run_files")
    if not isinstance(recorded, dict):
        return [Check("manifest.run_files", False, "must be an object of path: SHA-256")]
    checks = []
    for name in sorted(recorded):
        field = f"manifest.run_files[{name}]"
        path = _inside(folder, name)
        if path is None:
            checks.append(Check(field, False, f"{name!r} is not a path inside the run folder"))
        elif not path.is_file():
            checks.append(Check(field, False, f"{path} is missing"))
        else:
            actual = file_sha256(path)
            checks.append(Check(field, actual == recorded[name], compare(recorded[name], actual)))
    present = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    extra = sorted(present - set(recorded))
    checks.append(
        Check(
            "manifest.run_files",
            not extra,
            f"{len(recorded)} files listed, the folder has no other"
            if not extra
            else f"{folder} has {len(extra)} file(s) the report does not list: "
            + ", ".join(extra[:5])
            + (", ..." if len(extra) > 5 else ""),
        )
    )
    checks.append(_final_weights(folder / "model", manifest.get("final_weights_sha256")))
    checks.append(_weight_distance(folder, (manifest.get("replay") or {}).get("weight_distance")))
    return checks


def corpus_checks(recorded: dict, path: Path) -> list[Check]:
    """The corpus file the verifier names against the report's corpus hashes."""
    from attribution_engine.corpus import load_corpus

    checks = [
        Check(
            "manifest.corpus.file_sha256",
            file_sha256(path) == recorded.get("file_sha256"),
            compare(recorded.get("file_sha256"), file_sha256(path)),
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
            checks.append(Check(field, False, compare(listed[key], actual[key])))
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
            compare(recorded.get("sha256"), corpus.sha256),
        )
    )
    return checks


def _inside(folder: Path, name: object) -> Path | None:
    """`folder / name` when it resolves inside `folder` (symlinks followed), else None."""
    if not isinstance(name, str) or not name or Path(name).is_absolute() or "\\" in name:
        return None
    path = (folder / name).resolve()
    return path if path.is_relative_to(folder) and path != folder else None


def _final_weights(model_dir: Path, recorded: object) -> Check:
    from attribution_engine.models import load_local_model, weights_sha256

    field = "manifest.final_weights_sha256"
    if not (model_dir / "config.json").is_file():
        return Check(field, recorded is None, f"the run folder has no final model ({model_dir})")
    outside = [
        p.name
        for p in model_dir.iterdir()
        if _inside(model_dir.parent, p.relative_to(model_dir.parent).as_posix()) is None
    ]
    if outside:
        return Check(
            field,
            False,
            f"{model_dir} links outside the run folder ({', '.join(outside[:3])}): not loaded",
        )
    if not (model_dir / "model.safetensors").is_file():
        return Check(
            field,
            False,
            f"{model_dir} holds no model.safetensors; verify loads weights from safetensors "
            "only (a pickled checkpoint can run code), so the hash was not recomputed",
        )
    try:
        model, _ = load_local_model(model_dir)
    except (OSError, ValueError, RuntimeError) as error:
        return Check(field, False, f"the final model in {model_dir} does not load: {error}")
    actual = weights_sha256(model)
    return Check(field, actual == recorded, compare(recorded, actual))


def _weight_distance(folder: Path, recorded: object) -> Check:
    import json

    field = "manifest.replay.weight_distance"
    summary = _inside(folder, "summary.json")
    if summary is None:
        return Check(field, False, "summary.json links outside the run folder: not read")
    try:
        actual = (
            json.loads(summary.read_text()).get("weight_distance") if summary.is_file() else None
        )
        same = canonical(recorded) == canonical(actual)
    except (ValueError, TypeError, AttributeError, OSError) as error:
        return Check(field, False, f"{summary} does not read as a summary: {error}")
    return Check(field, same, compare(recorded, actual))
