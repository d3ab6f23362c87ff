"""Where a job may read: the configured corpus, model and upload folders of a data directory.

The UI never names a server path. It lists what these folders hold and queues a name; the
worker resolves the name against its own folders again before it opens anything, so a job row
written by another client (any payload, an old version, a `../` name, a symlink pointing out)
reads nothing outside them. Operators put corpora and models there by copying, bind-mounting
or uploading (Runs page); a symlink that points outside its folder is refused like any path.

    <data_dir>/corpora/   .jsonl and .csv corpora, and folders of .txt files
    <data_dir>/models/    local Hugging Face model folders (each with config.json)
    <data_dir>/uploads/   targets added on the Targets page (provenance/pending.py)

Pure path logic (no torch, no Streamlit): the UI imports it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from attribution_engine.train_config import TINY_MODEL
from provenance.jobs.payloads import PayloadError

CORPUS_SUFFIXES = (".jsonl", ".csv")


@dataclass(frozen=True)
class Roots:
    """The folders jobs may read, all under one data directory (the worker's --out)."""

    data_dir: Path

    @property
    def corpora(self) -> Path:
        return Path(self.data_dir) / "corpora"

    @property
    def models(self) -> Path:
        return Path(self.data_dir) / "models"

    @property
    def uploads(self) -> Path:
        return Path(self.data_dir) / "uploads"

    def corpus(self, name: str | Path) -> Path:
        """The corpus `name` (relative to the corpus folder, or an absolute path inside it) as
        a resolved path inside that folder; PayloadError otherwise, the same message whether
        or not the path exists (a refusal reveals nothing about the server's files)."""
        path = _inside(self.corpora, name, "corpus_path")
        if not (path.is_dir() or path.suffix.lower() in CORPUS_SUFFIXES) or not path.exists():
            raise PayloadError(
                f"'corpus_path' {_shown(name)} is not a .jsonl or .csv corpus or a folder of "
                f".txt files in the corpus folder {self.corpora}; add it there (or upload it on "
                "the Runs page) and choose it from the list"
            )
        return path

    def model(self, name: str) -> str:
        """TINY_MODEL, or the model folder `name` inside the model folder (resolved, holding
        config.json); PayloadError otherwise."""
        if name == TINY_MODEL:
            return name
        path = _inside(self.models, name, "model")
        if not (path / "config.json").is_file():
            raise PayloadError(
                f"'model' {_shown(name)} is neither {TINY_MODEL} nor a Hugging Face model folder "
                f"(with config.json) in the model folder {self.models}; put the model there and "
                "choose it from the list (nothing is downloaded)"
            )
        return str(path)

    def targets(self, name: str | Path) -> Path:
        """A targets file inside the uploads or the corpus folder; PayloadError otherwise."""
        found = []
        for folder in (self.uploads, self.corpora):
            try:
                found.append(_inside(folder, name, "targets_path"))
            except PayloadError as err:
                refused = err
        existing = [path for path in found if path.is_file()]
        if existing or found:
            return (existing or found)[0]
        raise refused

    def corpus_choices(self) -> list[str]:
        """Names of the corpora in the corpus folder, as the Runs page lists them."""
        return _listing(self.corpora, lambda p: p.is_dir() or p.suffix.lower() in CORPUS_SUFFIXES)

    def model_choices(self) -> list[str]:
        """TINY_MODEL, then the names of the model folders in the model folder."""
        return [TINY_MODEL, *_listing(self.models, lambda p: (p / "config.json").is_file())]


def _inside(root: Path, name: str | Path, field: str) -> Path:
    text = str(name).strip()
    relative = Path(text)
    if not text or ".." in relative.parts or "\x00" in text:
        raise PayloadError(
            f"'{field}' {_shown(name)} must name an entry of {root} without '..'; choose it "
            "from the list"
        )
    base = root.resolve()
    path = (relative if relative.is_absolute() else base / relative).resolve()
    if path == base or not path.is_relative_to(base):
        raise PayloadError(
            f"'{field}' {_shown(name)} is outside {root}, the only folder jobs may read for it; "
            "put the file there and choose it from the list"
        )
    return path


def _listing(root: Path, keep) -> list[str]:
    if not root.is_dir():
        return []
    base = root.resolve()
    return sorted(
        p.name
        for p in root.iterdir()
        if not p.name.startswith(".") and p.resolve().is_relative_to(base) and keep(p)
    )


def _shown(value: object) -> str:
    """A user-given value, short enough for a one-line message."""
    text = repr(value if isinstance(value, str) else str(value))
    return text if len(text) <= 80 else text[:77] + "...'"
