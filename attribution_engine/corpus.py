"""Corpus ingestion: a .jsonl file, a .csv file or a directory of .txt files -> a hashed Corpus.

Every text is NFC-normalised with CRLF/CR turned into "\\n"; a document's sha256 is that of its
text's UTF-8 bytes. Strict by default: the first bad record raises CorpusError naming file:line,
what is wrong and how to fix it. With lenient=True bad records are skipped and listed in
`Corpus.skipped`. Documents with identical text are reported in `Corpus.duplicate_groups`, never
dropped (dropping would change which document a training row belongs to).
"""

from __future__ import annotations

import hashlib
import json
import os
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from attribution_engine.records import (
    FORMATS,
    OPTIONAL_FIELDS,
    BadRecord,
    CorpusError,
    SkippedLine,
    atomic_write_jsonl,
    check_input_path,
    collect_records,
    normalize_text,
    optional_string,
    read_csv_records,
    read_jsonl_records,
    read_txt_records,
    record_id,
    record_text,
)

__all__ = [
    "Corpus",
    "CorpusError",
    "Document",
    "SkippedLine",
    "combined_sha256",
    "load_corpus",
    "write_jsonl",
]


RESERVED_KEYS = frozenset(("id", "text", *OPTIONAL_FIELDS))
# Characters of one document. Training cuts documents into context-length rows anyway, but the
# tokenizer is trained and run on each document whole: one 10 MB single-line document made a
# 2-step run take 192 s and 2.7 GB. Longer texts are refused (file:line): split them into
# several records (e.g. one per chapter), which also gives finer attribution.
MAX_DOCUMENT_CHARS = 1_000_000


class FrozenMetadata(dict):
    """A read-only dict: still JSON-serialisable, picklable and fine for dataclasses.asdict."""

    def _read_only(self, *args: object, **kwargs: object) -> None:
        raise TypeError("Document.metadata is read-only; build a new Document instead")

    __setitem__ = __delitem__ = __ior__ = _read_only  # type: ignore[assignment]
    clear = pop = popitem = setdefault = update = _read_only  # type: ignore[assignment]

    def __reduce__(self) -> tuple[type, tuple[dict[str, object]]]:
        return (FrozenMetadata, (dict(self),))


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Document:
    """One corpus document; `metadata` holds every other key (read-only, JSON values)."""

    id: str
    text: str
    sha256: str
    source: str | None = None
    author: str | None = None
    license: str | None = None
    url: str | None = None
    title: str | None = None
    date: str | None = None
    metadata: Mapping[str, object] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        if self.sha256 != text_sha256(self.text):
            raise ValueError(f"document {self.id!r}: sha256 does not match its text; use from_text")
        clash = sorted(RESERVED_KEYS.intersection(self.metadata))
        if clash:
            raise ValueError(f"document {self.id!r}: metadata repeats the field(s) {clash}")
        try:
            json.dumps(dict(self.metadata), ensure_ascii=False, allow_nan=False).encode("utf-8")
        except (TypeError, ValueError) as err:
            raise ValueError(f"document {self.id!r}: metadata is not plain JSON ({err})") from None
        object.__setattr__(self, "metadata", FrozenMetadata(self.metadata))

    @classmethod
    def from_text(cls, id: str, text: str, **fields: object) -> Document:
        """Normalise id, text and the optional string fields, and hash the text."""
        text = normalize_text(text)
        for key in OPTIONAL_FIELDS:
            if isinstance(fields.get(key), str):
                fields[key] = normalize_text(fields[key])
        return cls(
            id=unicodedata.normalize("NFC", id), text=text, sha256=text_sha256(text), **fields
        )


@dataclass(frozen=True)
class Corpus:
    path: str
    documents: tuple[Document, ...]  # file order; a directory's files by sorted relative path
    sha256: str  # combined_sha256(documents)
    duplicate_groups: tuple[tuple[str, ...], ...]  # ids sharing one text, in file order
    skipped: tuple[SkippedLine, ...]  # empty unless lenient=True


def combined_sha256(documents: Iterable[Document]) -> str:
    """SHA-256 (hex) of the concatenated UTF-8 lines f"{id}\\t{sha256}\\n", sorted by id.

    Ids are sorted by Unicode code point (Python's str order); ids never hold a tab or newline
    (control characters are rejected on load), so the lines are unambiguous. Recompute with
    `printf '%s\\t%s\\n' id sha ... | LC_ALL=C sort | sha256sum`.
    """
    ordered = sorted(documents, key=lambda doc: doc.id)
    lines = "".join(f"{doc.id}\t{doc.sha256}\n" for doc in ordered)
    return hashlib.sha256(lines.encode("utf-8")).hexdigest()


def document_from_record(record: Mapping[str, object]) -> Document:
    fields = {key: optional_string(record, key) for key in OPTIONAL_FIELDS}
    metadata = {key: value for key, value in record.items() if key not in RESERVED_KEYS}
    text = record.get("text")
    if isinstance(text, str) and len(text) > MAX_DOCUMENT_CHARS:
        raise BadRecord(
            f"'text' is {len(text):,} characters, over the {MAX_DOCUMENT_CHARS:,} one document "
            "may hold",
            "split it into several records (e.g. one per chapter or section)",
        )
    # PostgreSQL text and JSON cannot hold NUL: refused here, before any run folder exists,
    # rather than as a driver error half-way through the first ledger write.
    for key, value in (("text", text), *fields.items(), *metadata.items()):
        if _has_nul(key) or _has_nul(value):
            raise BadRecord(
                f"'{key[:40]}' contains a NUL character (\\u0000)",
                "remove it; text never holds one",
            )
    try:
        return Document.from_text(
            record_id(record), record_text(record), **fields, metadata=metadata
        )
    except ValueError as err:
        raise BadRecord(str(err), "keep extra keys to plain JSON values") from None


def _has_nul(value: object) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, Mapping):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def load_corpus(path: str | os.PathLike[str], *, lenient: bool = False) -> Corpus:
    """Read a corpus (format by path: directory, *.jsonl or *.csv), validate and hash it.

    JSONL and CSV records need `id` (a string, or an integer turned into a string) and `text`;
    `source`, `author`, `license`, `url`, `title` and `date` are optional strings (JSONL null or
    CSV empty = not given); any other key goes into `metadata`. Raises CorpusError.
    """
    path = check_input_path(path)
    if path.is_dir():
        records: Iterable[tuple[str, dict[str, object] | BadRecord]] = read_txt_records(path)
    elif path.suffix.lower() == ".jsonl":
        records = read_jsonl_records(path)
    elif path.suffix.lower() == ".csv":
        records = read_csv_records(path)
    else:
        raise CorpusError(
            f"{path}: unsupported corpus format {path.suffix or '(none)'!r}; {FORMATS}"
        )
    documents, skipped = collect_records(records, document_from_record, lenient=lenient)
    if not documents:
        seen = f" ({len(skipped)} skipped; first: {skipped[0]})" if skipped else ""
        raise CorpusError(
            f"{path}: no usable documents{seen}; add records with a non-empty 'id' and 'text'"
        )
    groups: dict[str, list[str]] = {}
    for doc in documents:
        groups.setdefault(doc.sha256, []).append(doc.id)
    return Corpus(
        path=str(path),
        documents=tuple(documents),
        sha256=combined_sha256(documents),
        duplicate_groups=tuple(tuple(ids) for ids in groups.values() if len(ids) > 1),
        skipped=tuple(skipped),
    )


def _document_record(doc: Document) -> dict[str, object]:
    record = {"id": doc.id, "text": doc.text}
    record |= {key: getattr(doc, key) for key in OPTIONAL_FIELDS if getattr(doc, key) is not None}
    record |= doc.metadata
    try:
        same = document_from_record(record) == doc
    except BadRecord as bad:
        raise ValueError(f"write_jsonl: document {doc.id!r} would not load back: {bad}") from None
    if not same:
        raise ValueError(
            f"write_jsonl: document {doc.id!r} is not normalised (NFC text, \\n line endings); "
            "build it with Document.from_text"
        )
    return record


def write_jsonl(documents: Iterable[Document], path: str | os.PathLike[str]) -> None:
    """Write documents as JSONL that load_corpus reads back equal (keys: id, text, set optional
    fields, metadata). Raises ValueError, leaving `path` as it was, on a repeated id or a
    document that would not load back (e.g. empty text)."""
    documents = list(documents)
    ids = [doc.id for doc in documents]
    if len(set(ids)) != len(ids):
        repeated = sorted(i for i, n in Counter(ids).items() if n > 1)[:5]
        raise ValueError(f"write_jsonl: repeated document id(s) {repeated}; ids must be unique")
    atomic_write_jsonl((_document_record(doc) for doc in documents), path)
