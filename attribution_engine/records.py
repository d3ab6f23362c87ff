"""Reading and validating records of corpus and target files, shared by corpus.py and targets.py.

Each reader yields (location, record or BadRecord) so that strict and lenient loading share one
path: strict raises CorpusError("file:line: problem; fix"), lenient skips and records the line.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import tempfile
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeVar

OPTIONAL_FIELDS = ("source", "author", "license", "url", "title", "date")
FORMATS = "use a .jsonl file, a .csv file with a header row, or a directory of .txt files"


_BOM = b"\xef\xbb\xbf"


_SURROGATE = re.compile("[\ud800-\udfff]")  # what surrogateescape makes of invalid UTF-8 bytes


class _Keyed(Protocol):  # Document, TargetText
    id: str
    text: str


T = TypeVar("T", bound=_Keyed)


class CorpusError(ValueError):
    """A corpus or targets file that cannot be used as given; says where (file:line) and the fix."""


# A problem quotes the record (its unknown keys, its id): a hostile line can make that megabytes.
MAX_PROBLEM_CHARS = 300


class BadRecord(Exception):
    """One record rejected: `problem` says what is wrong, `fix` how to repair it. The problem
    is cut to MAX_PROBLEM_CHARS, so a message stays one readable line whatever the record."""

    def __init__(self, problem: str, fix: str):
        if len(problem) > MAX_PROBLEM_CHARS:
            problem = f"{problem[: MAX_PROBLEM_CHARS - 40]}... ({len(problem)} characters)"
        super().__init__(f"{problem}; {fix}")


def normalize_text(text: str) -> str:
    """NFC with CRLF and lone CR turned into "\\n", so equal-looking texts hash equally."""
    return unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))


@dataclass(frozen=True)
class SkippedLine:
    location: str  # "path:line" of the record (its first physical line), or a .txt file's path
    reason: str

    def __str__(self) -> str:
        return f"{self.location}: {self.reason}"


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


def _reject_constant(name: str) -> object:
    raise BadRecord(f"{name} is not valid JSON", "write a number or null")


def _unique_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    repeated = sorted(key for key, n in Counter(key for key, _ in pairs).items() if n > 1)
    if repeated:
        raise BadRecord(f"key(s) {repeated} appear twice in one object", "keep one of each")
    return dict(pairs)


def read_jsonl_records(path: Path) -> Iterator[tuple[str, dict[str, object] | BadRecord]]:
    """One JSON object per line; blank lines skipped; BOM, CRLF and a missing final newline ok."""
    return jsonl_records(path.read_bytes(), str(path))


def jsonl_records(data: bytes, source: str) -> Iterator[tuple[str, dict[str, object] | BadRecord]]:
    """The records of JSONL bytes as ("source:line", record or BadRecord), as a file is read:
    for an upload held in memory, `source` is its name (the location every message names)."""
    data = data.removeprefix(_BOM)
    for number, raw in enumerate(data.splitlines(), start=1):  # splits on \n, \r\n and \r only
        where = f"{source}:{number}"
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
        except RecursionError:  # arrays or objects nested thousands deep
            fix = "write flat objects with string fields"
            yield where, BadRecord("JSON nested too deeply to read", fix)
            continue
        except ValueError as err:  # an integer of more than sys.get_int_max_str_digits() digits
            fix = "write ids and numbers as short strings"
            yield where, BadRecord(f"a number too long to read ({str(err).split(':')[0]})", fix)
            continue
        if not isinstance(record, dict):
            fix = 'write each line as an object, e.g. {"id": "doc-1", "text": "..."}'
            yield where, BadRecord(f"expected a JSON object, got {_kind(record)}", fix)
            continue
        yield where, record


def read_csv_records(path: Path) -> list[tuple[str, dict[str, object] | BadRecord]]:
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


def read_txt_records(root: Path) -> Iterator[tuple[str, dict[str, object] | BadRecord]]:
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
