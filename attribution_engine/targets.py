"""Target texts: the completions whose provenance is attributed, read from and written to JSONL.

One object per line: `id` (a string, or an integer turned into a string), `text` (the
completion, not empty) and an optional `prompt` (a string or null; its tokens get label -100
downstream, so only the completion is scored). No other keys: a misspelt `promt` would silently
score the prompt as part of the target. Strict like the corpus: the first bad line raises
CorpusError with file:line, what is wrong and the fix; a repeated id is an error.
"""

from __future__ import annotations

import os
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from attribution_engine.records import (
    BadRecord,
    CorpusError,
    atomic_write_jsonl,
    check_input_path,
    collect_records,
    normalize_text,
    optional_string,
    read_jsonl_records,
    record_id,
    record_text,
)

__all__ = [
    "TargetText",
    "checked_target",
    "load_targets",
    "target_from_record",
    "write_targets",
]

_KEYS = ("id", "text", "prompt")


@dataclass(frozen=True)
class TargetText:
    """A target; id, text and prompt are NFC with "\\n" line endings, an empty prompt is None."""

    id: str
    text: str  # the completion that is attributed
    prompt: str | None = None  # conditioning only: its tokens get label -100 downstream

    def __post_init__(self) -> None:
        # Normalised at construction (as load_targets does), so a written target reads back equal.
        object.__setattr__(self, "id", unicodedata.normalize("NFC", self.id))
        object.__setattr__(self, "text", normalize_text(self.text))
        object.__setattr__(self, "prompt", normalize_text(self.prompt) if self.prompt else None)


def target_from_record(
    record: Mapping[str, object], *, default_id: Callable[[str], str] | None = None
) -> TargetText:
    """The target of one JSON object (a line of a targets file, an upload, a job payload).

    Keys: `id` (a string, or an integer turned into its string), `text` (not empty) and an
    optional `prompt` (a string or null); no others. Strings come back NFC with "\\n" line
    endings. `default_id(text)` names a record without an `id` (or with a null one); without
    it such a record is refused. Raises BadRecord, saying what is wrong and how to fix it; the
    caller adds where (file:line).
    """
    unknown = sorted(set(record) - set(_KEYS))
    if unknown:
        raise BadRecord(f"unknown key(s) {unknown}", "a target has only 'id', 'text' and 'prompt'")
    prompt = optional_string(record, "prompt")
    if default_id is not None and record.get("id") is None:
        text = record_text(record)
        return TargetText(id=default_id(text), text=text, prompt=prompt)
    return TargetText(id=record_id(record), text=record_text(record), prompt=prompt)


def load_targets(path: str | os.PathLike[str]) -> list[TargetText]:
    """Read a .jsonl targets file, in file order. Raises CorpusError on any bad line."""
    path = check_input_path(path)
    if path.is_dir() or path.suffix.lower() != ".jsonl":
        raise CorpusError(
            f"{path}: targets must be a .jsonl file, one object per line with 'id', 'text' and "
            "optional 'prompt'; convert the file or rename it to .jsonl"
        )
    targets, _ = collect_records(read_jsonl_records(path), target_from_record, lenient=False)
    if not targets:
        raise CorpusError(f'{path}: no targets; add lines like {{"id": "t1", "text": ...}}')
    return targets


def write_targets(targets: Iterable[TargetText], path: str | os.PathLike[str]) -> None:
    """Write targets atomically as JSONL that load_targets reads back equal; raises ValueError,
    leaving `path` as it was, on a repeated id or a target that would not load back."""
    targets = list(targets)
    repeated = sorted(i for i, n in Counter(t.id for t in targets).items() if n > 1)
    if repeated:
        raise ValueError(f"write_targets: repeated target id(s) {repeated[:5]}; ids must be unique")
    atomic_write_jsonl((_checked_record(t) for t in targets), path)


def checked_target(target: TargetText) -> TargetText:
    """The target as a targets file would give it back (text normalised); raises BadRecord,
    saying what and how to fix, for one that no targets file can hold."""
    return target_from_record(_record(target))


def _record(target: TargetText) -> dict[str, object]:
    record: dict[str, object] = {"id": target.id, "text": target.text}
    if target.prompt is not None:
        record["prompt"] = target.prompt
    return record


def _checked_record(target: TargetText) -> dict[str, object]:
    record = _record(target)
    try:
        checked_target(target)
    except BadRecord as bad:
        raise ValueError(
            f"write_targets: target {target.id!r} would not load back: {bad}"
        ) from None
    return record
