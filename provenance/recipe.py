"""The recipe of a run (runs/RUN_ID/recipe.json, and the ledger's runs.recipe): one typed,
versioned record of everything a replay needs to repeat the run exactly, read and written here
only (`Recipe.load` / `Recipe.save`, `Recipe.from_json` / `Recipe.to_json`).

Version 2 records the accounting the steps actually used (`accounting`: "adam" or
"sgd_proxy", resolved from the config by the engine's rule) and the run's `total_steps`.
Version 1 files (no "version" key, written before this module) are read through
`_from_version_1`, the one compatibility path.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Literal

from attribution_engine.records import SkippedLine
from attribution_engine.targets import TargetText
from attribution_engine.train_config import TINY_MODEL, TrainConfig

VERSION = 2
FILE = "recipe.json"
ReferenceKind = Literal["corpus", "file", "other_targets", "held_out"]
RunKind = Literal["train", "attribute"]


class RecipeError(ValueError):
    """A recipe file that cannot be read: the message names the file and the field."""


@dataclass(frozen=True)
class Reference:
    """The reference text(s) of DESIGN 2.4b (kinds: provenance/reference.py): corpus documents
    kept in training, texts from a file, the other targets, or documents the user held out."""

    kind: ReferenceKind
    doc_ids: tuple[str, ...]  # corpus document ids (corpus, held_out) or the file's ids
    texts: tuple[str, ...]

    @property
    def columns(self) -> tuple[str, ...]:
        """The ledger's target keys of the reference columns, one per reference text."""
        return tuple(f"reference:{doc}" for doc in self.doc_ids)

    @property
    def excluded(self) -> tuple[str, ...]:
        """Corpus documents the run does not train on: only those the user held out."""
        return self.doc_ids if self.kind == "held_out" else ()

    @property
    def own_columns(self) -> dict[str, int]:
        """Trained documents that are reference texts -> their column, which their own
        reference mean leaves out (kind corpus only)."""
        return {doc: j for j, doc in enumerate(self.doc_ids)} if self.kind == "corpus" else {}


@dataclass(frozen=True)
class TargetFlag:
    """A target whose source the run cannot find: `document` is what it copies."""

    target_id: str
    document: str
    reason: str


@dataclass(frozen=True)
class CorpusRecord:
    """The corpus file the run trained on, as ingested."""

    path: str  # absolute path on the machine that ran it
    sha256: str  # corpus.combined_sha256 of its documents
    documents: int
    duplicate_groups: tuple[tuple[str, ...], ...]
    lenient: bool
    skipped: tuple[SkippedLine, ...]


@dataclass(frozen=True)
class Parent:
    """The run an attribution replay repeats."""

    run_id: str
    path: str  # its run directory, absolute


@dataclass(frozen=True)
class Recipe:
    run_id: str
    kind: RunKind
    created: str  # ISO 8601, UTC
    config: TrainConfig
    model: str  # TINY_MODEL or a local Hugging Face model directory
    corpus: CorpusRecord
    tokenizer_sha256: str
    initial_weights_sha256: str
    reference: Reference
    targets: tuple[TargetText, ...]
    accounting: Literal["adam", "sgd_proxy"]  # what the steps credited (config, resolved)
    # None only for a version-1 recipe read from the ledger without its run directory.
    total_steps: int | None
    parent: Parent | None = None
    flags: tuple[TargetFlag, ...] = ()  # targets copying a document the run does not train on
    # Ids of the targets a model wrote through this software (the demo's outputs); the ledger
    # records them as "generated", a replay's other targets as "uploaded" (the user's text).
    generated: tuple[str, ...] = ()

    @property
    def from_scratch(self) -> bool:
        return self.model == TINY_MODEL

    @property
    def value_columns(self) -> tuple[str, ...]:
        """Target keys in the order of the values' columns: targets, then reference columns."""
        return tuple(t.id for t in self.targets) + self.reference.columns

    def replay(
        self,
        run_id: str,
        created: str,
        targets: tuple[TargetText, ...],
        parent: Parent,
        flags: tuple[TargetFlag, ...] = (),
        generated: tuple[str, ...] = (),
    ) -> Recipe:
        """The recipe of a replay of this run with other targets attached."""
        return replace(
            self,
            run_id=run_id,
            kind="attribute",
            created=created,
            targets=targets,
            parent=parent,
            flags=flags,
            generated=generated,
        )

    def to_json(self) -> dict[str, Any]:
        """The JSON value written to recipe.json and the ledger (plain types only)."""
        return {"version": VERSION, **asdict(self)}

    @classmethod
    def from_json(cls, raw: dict[str, Any], where: str = "recipe") -> Recipe:
        """Read a recipe of any known version; RecipeError names `where` and the field."""
        if not isinstance(raw, dict):
            raise RecipeError(f"{where}: a recipe is a JSON object, not {type(raw).__name__}")
        version = raw.get("version", 1)
        if version not in (1, VERSION):
            raise RecipeError(
                f"{where}: recipe version {version!r} is not one this software reads "
                f"(1 or {VERSION}); upgrade provenance"
            )
        try:
            if version == 1:
                raw = _from_version_1(raw)
            corpus = raw["corpus"]
            parent = raw.get("parent")
            return cls(
                run_id=raw["run_id"],
                kind=raw["kind"],
                created=raw["created"],
                config=TrainConfig(**raw["config"]),
                model=raw["model"],
                corpus=CorpusRecord(
                    path=corpus["path"],
                    sha256=corpus["sha256"],
                    documents=int(corpus["documents"]),
                    duplicate_groups=tuple(tuple(g) for g in corpus["duplicate_groups"]),
                    lenient=bool(corpus["lenient"]),
                    skipped=tuple(SkippedLine(**s) for s in corpus["skipped"]),
                ),
                tokenizer_sha256=raw["tokenizer_sha256"],
                initial_weights_sha256=raw["initial_weights_sha256"],
                reference=Reference(
                    kind=raw["reference"]["kind"],
                    doc_ids=tuple(raw["reference"]["doc_ids"]),
                    texts=tuple(raw["reference"]["texts"]),
                ),
                targets=tuple(TargetText(**t) for t in raw["targets"]),
                accounting=raw["accounting"],
                total_steps=raw["total_steps"],
                parent=Parent(**parent) if parent else None,
                flags=tuple(TargetFlag(**f) for f in raw.get("flags", ())),
                generated=tuple(raw.get("generated", ())),
            )
        except (KeyError, TypeError) as err:
            raise RecipeError(
                f"{where}: missing or malformed field ({type(err).__name__}: {err}); the file "
                "was not written by provenance or was edited by hand"
            ) from None

    @classmethod
    def load(cls, run_dir: Path) -> Recipe:
        """runs/RUN_ID/recipe.json; a version-1 file gets its total steps from schedule.npy."""
        path = Path(run_dir) / FILE
        raw = json.loads(path.read_text())
        if isinstance(raw, dict) and "version" not in raw and "total_steps" not in raw:
            raw = {**raw, "total_steps": _scheduled_steps(Path(run_dir))}
        return cls.from_json(raw, where=str(path))

    def save(self, run_dir: Path) -> None:
        (Path(run_dir) / FILE).write_text(
            json.dumps(self.to_json(), indent=2, sort_keys=True) + "\n"
        )


def _from_version_1(raw: dict[str, Any]) -> dict[str, Any]:
    """A version-1 recipe (no accounting, no total steps) in version 2's shape.

    The accounting is resolved from the recorded config by the engine's rule. The total steps
    are those the caller found (Recipe.load reads schedule.npy), else the config's explicit
    `steps`; a version-1 recipe from the ledger alone with an epoch-based length has none
    (None: unknown, never guessed).
    """
    config = TrainConfig(**raw["config"])
    return {
        **raw,
        "version": VERSION,
        "accounting": config.resolved_accounting().value,
        "total_steps": raw.get("total_steps") or config.steps or None,
        "corpus": {"duplicate_groups": [], "lenient": False, "skipped": [], **raw["corpus"]},
    }


def _scheduled_steps(run_dir: Path) -> int:
    import numpy as np  # numpy only: schedule.npy is int64 [S, R]

    return int(np.load(run_dir / "schedule.npy", mmap_mode="r").shape[0])
