"""Target uploads, parsed by pure functions: bytes in, targets or one diagnosing error out.

Nothing here renders anything. Text that reaches the UI is shown through Streamlit's escaped
elements (st.text, st.code, st.dataframe), so an HTML or JavaScript payload stays inert text.

Accepted:
- a text box: one target, the whole text (an id is made from its hash unless given);
- a .txt file: one target, the whole file;
- a .jsonl file: one object per line with `id`, `text` and an optional `prompt`, as
  `provenance attribute --targets` reads (attribution_engine/targets.py).
Refused, with the reason and the fix: empty input, more than MAX_UPLOAD_BYTES or
MAX_UPLOAD_TARGETS, JSON nested too deep, bytes that are
not UTF-8 (with the byte offset), NUL bytes or other binary content, malformed JSONL lines
(with the line number), repeated ids. A UTF-8 byte-order mark is dropped.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path

from attribution_engine.records import (
    BadRecord,
    CorpusError,
    collect_records,
    jsonl_records,
    normalize_text,
)
from attribution_engine.targets import TargetText, checked_target, target_from_record, write_targets

MAX_UPLOAD_BYTES = 20 * 2**20  # the server's own cap too (.streamlit/config.toml maxUploadSize)
# Targets per uploaded file: an attribution job carries at most MAX_TARGETS (256) of them, and
# every waiting target is listed on the Targets page. Without a cap a 19 MB file of tiny lines
# became 1,048,576 targets (25 s, 492 MB) that every page render listed again.
MAX_UPLOAD_TARGETS = 1_000
UPLOAD_TYPES = ("txt", "jsonl")
# The file-name prefix of targets a model wrote, waiting in the uploads folder (save_targets).
GENERATED_PREFIX = "generated-"
CORPUS_TYPES = ("jsonl", "csv")
_BOM = "\ufeff"
# Control characters that never occur in text (tab, newline and carriage return do).
_BINARY_CONTROLS = {chr(c) for c in range(32)} - {"\t", "\n", "\r", "\f", "\v"}


class UploadError(ValueError):
    """An upload that cannot become targets; the message says what is wrong and how to fix it."""


def decode_text(data: bytes, name: str = "upload") -> str:
    """UTF-8 text of an upload, BOM removed, line endings "\\n"; UploadError otherwise."""
    if len(data) > MAX_UPLOAD_BYTES:
        raise UploadError(
            f"{name} is {len(data) / 2**20:.1f} MB, over the {MAX_UPLOAD_BYTES // 2**20} MB "
            "limit; split it into smaller files"
        )
    nul = data.find(b"\x00")
    if nul >= 0:
        raise UploadError(
            f"{name} contains NUL bytes at byte {nul}: it is a binary file, "
            "not text; upload plain UTF-8 text (.txt) or JSON lines (.jsonl)"
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise UploadError(
            f"{name} is not UTF-8 text (invalid byte 0x{data[err.start]:02x} at byte "
            f"{err.start}); save it as UTF-8 and upload it again"
        ) from None
    text = text.removeprefix(_BOM)
    binary = sorted({c for c in text if c in _BINARY_CONTROLS})
    if binary:
        raise UploadError(
            f"{name} contains control characters {[hex(ord(c)) for c in binary[:5]]}, as binary "
            "files do; upload plain UTF-8 text"
        )
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise UploadError(f"{name} is empty; it needs the text of at least one target")
    return text


def text_id(text: str) -> str:
    """A stable id for a target without one: `upload-` and 12 hex digits of the SHA-256 of its
    normalised text (NFC, "\\n" line endings), so equal-looking texts get one id."""
    digest = hashlib.sha256(normalize_text(text).encode("utf-8")).hexdigest()
    return "upload-" + digest[:12]


def parse_text_box(text: str, prompt: str = "", target_id: str = "") -> list[TargetText]:
    """One target from the text box (the box's str is encoded and checked like a file)."""
    body = decode_text(text.encode("utf-8"), "the text box")
    prompt = prompt.strip()
    return [_target(target_id.strip() or text_id(body), body, prompt or None, "the text box")]


def generated_target(text: str, prompt: str) -> TargetText:
    """A sampled completion as a target, kept exactly as the model wrote it (a byte-level
    tokenizer can emit control characters, which an upload would be refused for)."""
    if not text.strip():
        raise UploadError("the model produced only whitespace; sample again with another seed")
    return TargetText(id=text_id(text), text=text, prompt=prompt.strip() or None)


def parse_upload(name: str, data: bytes) -> list[TargetText]:
    """Targets from an uploaded file: .txt is one target, .jsonl one per line."""
    suffix = Path(name).suffix.lower().lstrip(".")
    if suffix not in UPLOAD_TYPES:
        raise UploadError(f"{name}: only .txt (one target) and .jsonl (one per line) are accepted")
    text = decode_text(data, name)
    if suffix == "txt":
        return [_target(text_id(text), text, None, name)]
    return parse_jsonl(text, name)


def parse_jsonl(text: str, name: str = "upload.jsonl") -> list[TargetText]:
    """One target per non-blank line, read by the engine's targets parser (the one behind
    `provenance attribute --targets`); a line without an id gets `text_id`. The first bad line
    or repeated id raises UploadError naming name:line, what is wrong and the fix."""

    def target(record: Mapping[str, object]) -> TargetText:
        return _upload_target(target_from_record(record, default_id=text_id))

    lines = sum(1 for line in text.splitlines() if line.strip())  # before any JSON is parsed
    if lines > MAX_UPLOAD_TARGETS:
        raise UploadError(
            f"{name} has {lines} lines, over the {MAX_UPLOAD_TARGETS} targets one upload may "
            "hold; split it into several files (an attribution job takes 256 at a time)"
        )

    records = jsonl_records(text.encode("utf-8"), name)
    try:
        targets, _ = collect_records(records, target, lenient=False)
    except CorpusError as err:
        raise UploadError(str(err)) from None
    if not targets:
        raise UploadError(f'{name} has no targets; add lines like {{"id": "t1", "text": "..."}}')
    return targets


def _target(target_id: str, text: str, prompt: str | None, where: str) -> TargetText:
    """The target of the text box or a .txt file as its saved file will give it back;
    UploadError, naming `where`, for anything a targets file cannot hold."""
    try:
        return _upload_target(checked_target(TargetText(id=target_id, text=text, prompt=prompt)))
    except BadRecord as bad:
        raise UploadError(f"{where}: {bad}") from None


def _upload_target(target: TargetText) -> TargetText:
    """BadRecord for what a targets file may hold but an upload may not: a long id, control
    characters. The raw upload was checked already, but JSON escapes (\\u0000) only appear
    once a line is decoded, so the decoded fields are checked again here."""
    if len(target.id) > 200:
        raise BadRecord(f"the id is {len(target.id)} characters", "keep it under 200")
    for field, value in (("text", target.text), ("prompt", target.prompt or "")):
        binary = sorted({c for c in value if c in _BINARY_CONTROLS})
        if binary:
            raise BadRecord(
                f"'{field}' contains control characters {[hex(ord(c)) for c in binary[:5]]} "
                "(JSON escapes such as \\u0000)",
                "remove them",
            )
    return target


def save_corpus(name: str, data: bytes, folder: Path) -> Path:
    """Write an uploaded corpus into the corpus folder as `upload-<sha256[:16]>.<jsonl|csv>`
    (named by content, never by the user); the worker checks every record when it trains.
    UploadError for another type, too large, binary or not UTF-8 (decode_text)."""
    suffix = Path(name).suffix.lower().lstrip(".")
    if suffix not in CORPUS_TYPES:
        raise UploadError(f"{name}: a corpus upload is a .jsonl or .csv file")
    decode_text(data, name)
    path = Path(folder) / f"upload-{hashlib.sha256(data).hexdigest()[:16]}.{suffix}"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.partial")
        partial.write_bytes(data)
        partial.replace(path)  # never a half-written corpus under its final name
    return path


def save_targets(targets: list[TargetText], data_dir: Path, generated: bool = False) -> Path:
    """Write targets to `<data_dir>/uploads/<sha256>.jsonl` (named by content, never by the
    user), where they wait to be attributed (provenance/pending.py); the same targets always
    land in the same file. `generated`: a model wrote them (the Targets page's sampler), so the
    file is `generated-<sha256>.jsonl` and their attribution records origin "generated"
    (pending.is_generated); otherwise they are the user's text ("uploaded"). An attribution job
    carries the targets themselves, not this path."""
    canonical = "\n".join(
        json.dumps({"id": t.id, "text": t.text, "prompt": t.prompt}, sort_keys=True)
        for t in targets
    )
    digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    prefix = GENERATED_PREFIX if generated else ""
    path = Path(data_dir) / "uploads" / f"{prefix}{digest}.jsonl"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        write_targets(targets, path)
    return path.resolve()
