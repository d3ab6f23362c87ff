"""Target uploads, parsed by pure functions: bytes in, targets or one diagnosing error out.

Nothing here renders anything. Text that reaches the UI is shown through Streamlit's escaped
elements (st.text, st.code, st.dataframe), so an HTML or JavaScript payload stays inert text.

Accepted:
- a text box: one target, the whole text (an id is made from its hash unless given);
- a .txt file: one target, the whole file;
- a .jsonl file: one object per line with `id`, `text` and an optional `prompt`, as
  `provenance attribute --targets` reads (attribution_engine/targets.py).
Refused, with the reason and the fix: empty input, more than MAX_UPLOAD_BYTES, bytes that are
not UTF-8 (with the byte offset), NUL bytes or other binary content, malformed JSONL lines
(with the line number), repeated ids. A UTF-8 byte-order mark is dropped.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from attribution_engine.records import BadRecord
from attribution_engine.targets import TargetText, checked_target, write_targets

MAX_UPLOAD_BYTES = 20 * 2**20  # the server's own cap too (.streamlit/config.toml maxUploadSize)
UPLOAD_TYPES = ("txt", "jsonl")
_BOM = "\ufeff"
# Control characters that never occur in text (tab, newline and carriage return do).
_BINARY_CONTROLS = {chr(c) for c in range(32)} - {"\t", "\n", "\r", "\f", "\v"}
_KEYS = ("id", "text", "prompt")


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
    """A stable id for a target without one: `upload-` and 12 hex digits of its SHA-256."""
    return "upload-" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


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
    """One target per non-blank line; the first bad line raises UploadError with its number."""
    targets: list[TargetText] = []
    seen: dict[str, int] = {}
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        where = f"{name}:{number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            raise UploadError(
                f"{where}: not valid JSON ({err.msg} at column {err.colno}); each line must be "
                'one object like {"id": "t1", "text": "..."}'
            ) from None
        if not isinstance(record, dict):
            raise UploadError(f"{where}: a line must be a JSON object, not {type(record).__name__}")
        unknown = sorted(set(record) - set(_KEYS))
        if unknown:
            raise UploadError(f"{where}: unknown key(s) {unknown}; use only 'id', 'text', 'prompt'")
        body, prompt, raw_id = record.get("text"), record.get("prompt"), record.get("id")
        if not isinstance(body, str) or not body.strip():
            raise UploadError(f"{where}: 'text' must be a non-empty string")
        if prompt is not None and not isinstance(prompt, str):
            raise UploadError(f"{where}: 'prompt' must be a string or null")
        if raw_id is None:
            target_id = text_id(body)
        elif (
            isinstance(raw_id, (str, int)) and not isinstance(raw_id, bool) and str(raw_id).strip()
        ):
            target_id = str(raw_id).strip()
        else:
            raise UploadError(f"{where}: 'id' must be a non-empty string or an integer")
        if target_id in seen:
            raise UploadError(
                f"{where}: id {target_id!r} repeats line {seen[target_id]}; ids must be unique"
            )
        seen[target_id] = number
        targets.append(_target(target_id, body, prompt or None, where))
    if not targets:
        raise UploadError(f'{name} has no targets; add lines like {{"id": "t1", "text": "..."}}')
    return targets


def _target(target_id: str, text: str, prompt: str | None, where: str) -> TargetText:
    """The target as its saved file will give it back; UploadError for anything a targets file
    cannot hold. The raw upload was checked already, but JSON escapes (\u0000, \ud800) only
    appear once a line is decoded, so the decoded fields are checked again here."""
    if len(target_id) > 200:
        raise UploadError(f"{where}: the id is {len(target_id)} characters; keep it under 200")
    for field, value in (("text", text), ("prompt", prompt or "")):
        binary = sorted({c for c in value if c in _BINARY_CONTROLS})
        if binary:
            raise UploadError(
                f"{where}: '{field}' contains control characters "
                f"{[hex(ord(c)) for c in binary[:5]]} (JSON escapes such as \\u0000); remove them"
            )
    try:
        return checked_target(TargetText(id=target_id, text=text, prompt=prompt))
    except BadRecord as bad:
        raise UploadError(f"{where}: {bad}") from None


def save_targets(targets: list[TargetText], data_dir: Path) -> Path:
    """Write targets to `<data_dir>/uploads/<sha256>.jsonl` (named by content, never by the
    user) for an attribution job; the same targets always land in the same file."""
    canonical = "\n".join(
        json.dumps({"id": t.id, "text": t.text, "prompt": t.prompt}, sort_keys=True)
        for t in targets
    )
    digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    path = Path(data_dir) / "uploads" / f"{digest}.jsonl"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        write_targets(targets, path)
    return path.resolve()
