"""Corpus ingestion: a .jsonl file, a .csv file or a directory of .txt files -> a hashed Corpus.

Every text is NFC-normalised with CRLF/CR turned into "\\n"; a document's sha256 is that of its
text's UTF-8 bytes. Strict by default: the first bad record raises CorpusError naming file:line,
what is wrong and how to fix it. With lenient=True bad records are skipped and listed in
`Corpus.skipped`. Documents with identical text are reported in `Corpus.duplicate_groups`, never
dropped (dropping would change which document a training row belongs to).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import tempfile
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, TypeVar

__all__ = [
    "Corpus",
    "CorpusError",
    "Document",
    "SkippedLine",
    "combined_sha256",
    "load_corpus",
    "write_jsonl",
]

OPTIONAL_FIELDS = ("source", "author", "license", "url", "title", "date")
RESERVED_KEYS = frozenset(("id", "text", *OPTIONAL_FIELDS))
FORMATS = "use a .jsonl file, a .csv file with a header row, or a directory of .txt files"
_BOM = b"\xef\xbb\xbf"
_SURROGATE = re.compile("[\ud800-\udfff]")  # what surrogateescape makes of invalid UTF-8 bytes


class _Keyed(Protocol):  # Document, TargetText
    id: str
    text: str


T = TypeVar("T", bound=_Keyed)


class FrozenMetadata(dict):
    """A read-only dict: still JSON-serialisable, picklable and fine for dataclasses.asdict."""

    def _read_only(self, *args: object, **kwargs: object) -> None:
        raise TypeError("Document.metadata is read-only; build a new Document instead")

    __setitem__ = __delitem__ = __ior__ = _read_only  # type: ignore[assignment]
    clear = pop = popitem = setdefault = update = _read_only  # type: ignore[assignment]

    def __reduce__(self) -> tuple[type, tuple[dict[str, object]]]:
        return (FrozenMetadata, (dict(self),))


class CorpusError(ValueError):
    """A corpus or targets file that cannot be used as given; says where (file:line) and the fix."""


class BadRecord(Exception):
    """One record rejected: `problem` says what is wrong, `fix` how to repair it."""

    def __init__(self, problem: str, fix: str):
        super().__init__(f"{problem}; {fix}")


def normalize_text(text: str) -> str:
    """NFC with CRLF and lone CR turned into "\\n", so equal-looking texts hash equally."""
    return unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))


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
class SkippedLine:
    location: str  # "path:line" of the record (its first physical line), or a .txt file's path
    reason: str

    def __str__(self) -> str:
        return f"{self.location}: {self.reason}"


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


# Record validation, shared with targets.py.


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    names = {int: "a number", float: "a number", str: "a string", list: "an array"}
    return names.get(type(value), "an object")


def _string(value: str, key: str) -> str:
    if _SURROGATE.search(value):
        raise BadRecord(f"'{key}' holds an unpaired surrogate (\\ud800-\\udfff)", "fix the escape")
    return normalize_text(value)


def record_id(record: Mapping[str, object]) -> str:
    """The record's id: a non-empty string, or an integer (turned into its decimal string)."""
    if "id" not in record:
        raise BadRecord("missing required key 'id'", "give every record a unique string 'id'")
    value = record["id"]
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str):
        raise BadRecord(
            f"'id' must be a string or an integer, got {_kind(value)}", 'e.g. "id": "doc-1"'
        )
    value = _string(value, "id")
    if not value.strip():
        raise BadRecord("'id' is empty", "give every record a unique, non-empty 'id'")
    if any(unicodedata.category(char) == "Cc" for char in value):
        raise BadRecord("'id' holds a control character (tab, newline, ...)", "use a printable id")
    return value


def record_text(record: Mapping[str, object], key: str = "text") -> str:
    """A required text field: a string that is not empty or whitespace-only, normalised."""
    if key not in record:
        raise BadRecord(f"missing required key '{key}'", f"give every record a string '{key}'")
    value = record[key]
    if not isinstance(value, str):
        raise BadRecord(f"'{key}' must be a string, got {_kind(value)}", "quote the text")
    value = _string(value, key)
    if not value.strip():
        raise BadRecord(f"'{key}' is empty or whitespace-only", "fill it in or delete the record")
    return value


def optional_string(record: Mapping[str, object], key: str) -> str | None:
    value = record.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadRecord(f"'{key}' must be a string or null, got {_kind(value)}", "quote it")
    return _string(value, key)


def document_from_record(record: Mapping[str, object]) -> Document:
    fields = {key: optional_string(record, key) for key in OPTIONAL_FIELDS}
    metadata = {key: value for key, value in record.items() if key not in RESERVED_KEYS}
    try:
        return Document.from_text(
            record_id(record), record_text(record), **fields, metadata=metadata
        )
    except ValueError as err:
        raise BadRecord(str(err), "keep extra keys to plain JSON values") from None


def collect_records(
    records: Iterable[tuple[str, Mapping[str, object] | BadRecord]],
    make: Callable[[Mapping[str, object]], T],
    *,
    lenient: bool,
) -> tuple[list[T], list[SkippedLine]]:
    """Turn (location, record) pairs into items with unique ids (`make(record).id`).

    Strict: the first bad record raises CorpusError("location: problem; fix"). Lenient: it is
    skipped and listed; of two records with one id the first is kept.
    """
    items: list[T] = []
    skipped: list[SkippedLine] = []
    first: dict[str, tuple[str, T]] = {}
    for where, record in records:
        try:
            if isinstance(record, BadRecord):
                raise record
            item = make(record)
            if item.id in first:
                where_first, other = first[item.id]
                same = other.text == item.text
                raise BadRecord(
                    f"duplicate id {item.id!r}, first used at {where_first} "
                    + ("with the same text (a repeated record)" if same else "with other text"),
                    "delete the repeated record" if same else "give one of the two a new id",
                )
        except BadRecord as bad:
            if not lenient:
                raise CorpusError(f"{where}: {bad}") from None
            skipped.append(SkippedLine(where, str(bad)))
            continue
        first[item.id] = (where, item)
        items.append(item)
    return items, skipped


# Readers: each yields (location, record or BadRecord) so strict and lenient share one path.


def _reject_constant(name: str) -> object:
    raise BadRecord(f"{name} is not valid JSON", "write a number or null")


def _unique_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    repeated = sorted(key for key, n in Counter(key for key, _ in pairs).items() if n > 1)
    if repeated:
        raise BadRecord(f"key(s) {repeated} appear twice in one object", "keep one of each")
    return dict(pairs)


def read_jsonl_records(path: Path) -> Iterator[tuple[str, dict[str, object] | BadRecord]]:
    """One JSON object per line; blank lines skipped; BOM, CRLF and a missing final newline ok."""
    data = path.read_bytes().removeprefix(_BOM)
    for number, raw in enumerate(data.splitlines(), start=1):  # splits on \n, \r\n and \r only
        where = f"{path}:{number}"
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as err:
            yield where, BadRecord(f"invalid UTF-8 at byte {err.start + 1}", "save as UTF-8")
            continue
        if not line.strip():
            continue
        try:
            record = json.loads(
                line, object_pairs_hook=_unique_keys, parse_constant=_reject_constant
            )
        except BadRecord as bad:
            yield where, bad
            continue
        except json.JSONDecodeError as err:
            fix = "write one complete JSON object per line"
            yield where, BadRecord(f"invalid JSON ({err.msg} at column {err.colno})", fix)
            continue
        if not isinstance(record, dict):
            fix = 'write each line as an object, e.g. {"id": "doc-1", "text": "..."}'
            yield where, BadRecord(f"expected a JSON object, got {_kind(record)}", fix)
            continue
        yield where, record


def _read_csv(path: Path) -> list[tuple[str, dict[str, object] | BadRecord]]:
    text = path.read_bytes().removeprefix(_BOM).decode("utf-8", "surrogateescape")
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    header = next(reader, None)
    if header is None:
        return []
    missing = [name for name in ("id", "text") if name not in header]
    repeated = sorted(name for name, n in Counter(header).items() if n > 1)
    if missing or repeated or _SURROGATE.search("".join(header)):
        raise CorpusError(
            f"{path}:1: bad header row (missing: {missing}, repeated: {repeated}); the first row "
            "must name each column once in UTF-8, including id and text, e.g. id,text,source"
        )
    out: list[tuple[str, dict[str, object] | BadRecord]] = []
    limit = csv.field_size_limit(2**31 - 1)  # the default 128 KiB is too small for documents
    try:
        start = reader.line_num + 1
        while True:
            where = f"{path}:{start}"
            try:
                row = next(reader)
            except StopIteration:
                break
            except csv.Error as err:
                fix = 'quote fields with commas, quotes or line breaks, doubling inner quotes ("")'
                out.append((where, BadRecord(f"malformed CSV ({err})", fix)))
                continue
            finally:
                start = reader.line_num + 1
            if not any(value.strip() for value in row):  # a blank line
                continue
            if _SURROGATE.search("".join(row)):
                out.append((where, BadRecord("invalid UTF-8 in this record", "save as UTF-8")))
            elif len(row) != len(header):
                problem = f"{len(row)} fields but the header has {len(header)}"
                out.append((where, BadRecord(problem, "quote fields that contain commas")))
            else:  # CSV has no null: an empty optional field means "not given"
                record = {
                    k: None if k in OPTIONAL_FIELDS and v == "" else v
                    for k, v in zip(header, row, strict=True)
                }
                out.append((where, record))
    finally:
        csv.field_size_limit(limit)
    return out


def _read_txt_dir(root: Path) -> Iterator[tuple[str, dict[str, object] | BadRecord]]:
    """Every .txt file below root (hidden files and folders ignored); id = relative path."""
    files = {
        path.relative_to(root).as_posix(): path
        for path in root.rglob("*")
        if path.suffix.lower() == ".txt"
        and path.is_file()
        and not any(part.startswith(".") for part in path.relative_to(root).parts)
    }
    for relative in sorted(files):
        data = files[relative].read_bytes().removeprefix(_BOM)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as err:
            line = data[: err.start].count(b"\n") + 1
            yield f"{files[relative]}:{line}", BadRecord("invalid UTF-8", "save the file as UTF-8")
            continue
        yield str(files[relative]), {"id": relative, "text": text}


def check_input_path(path: str | os.PathLike[str]) -> Path:
    path = Path(path)
    if not path.exists():
        raise CorpusError(f"{path}: no such file or directory; check the path ({FORMATS})")
    return path


def load_corpus(path: str | os.PathLike[str], *, lenient: bool = False) -> Corpus:
    """Read a corpus (format by path: directory, *.jsonl or *.csv), validate and hash it.

    JSONL and CSV records need `id` (a string, or an integer turned into a string) and `text`;
    `source`, `author`, `license`, `url`, `title` and `date` are optional strings (JSONL null or
    CSV empty = not given); any other key goes into `metadata`. Raises CorpusError.
    """
    path = check_input_path(path)
    if path.is_dir():
        records: Iterable[tuple[str, dict[str, object] | BadRecord]] = _read_txt_dir(path)
    elif path.suffix.lower() == ".jsonl":
        records = read_jsonl_records(path)
    elif path.suffix.lower() == ".csv":
        records = _read_csv(path)
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


# Writing.


def atomic_write_jsonl(
    records: Iterable[Mapping[str, object]], path: str | os.PathLike[str]
) -> None:
    """Write one JSON object per line to a temp file beside `path`, then os.replace it."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as out:
            for record in records:
                out.write(json.dumps(record, ensure_ascii=False, allow_nan=False) + "\n")
            out.flush()
            os.fsync(out.fileno())
        # mkstemp makes the file private (0600); give it the mode a data file normally has.
        os.chmod(tmp, path.stat().st_mode & 0o777 if path.exists() else 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


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
