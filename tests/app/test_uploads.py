"""Upload parsing (provenance/uploads.py): pure functions, every refusal names the problem."""

from __future__ import annotations

import json

import pytest

from attribution_engine.targets import load_targets
from provenance.uploads import (
    MAX_UPLOAD_BYTES,
    UploadError,
    decode_text,
    parse_jsonl,
    parse_text_box,
    parse_upload,
    save_targets,
    text_id,
)


def test_txt_is_one_target_with_a_stable_id() -> None:
    (target,) = parse_upload("speech.txt", b"Four score and\r\nseven years ago")
    assert target.text == "Four score and\nseven years ago"
    assert target.id == text_id("Four score and\nseven years ago")
    assert target.prompt is None


def test_jsonl_targets_in_file_order() -> None:
    data = b'{"id": "a", "text": "one", "prompt": "p"}\n\n{"id": 2, "text": "two"}\n'
    targets = parse_upload("t.JSONL", data)
    assert [(t.id, t.text, t.prompt) for t in targets] == [("a", "one", "p"), ("2", "two", None)]


@pytest.mark.parametrize("data", [b"", b"   \n\t ", "\ufeff".encode()])
def test_empty_is_refused(data: bytes) -> None:
    with pytest.raises(UploadError, match="empty"):
        parse_upload("t.txt", data)


def test_over_the_cap_is_refused_before_decoding() -> None:
    with pytest.raises(UploadError, match="over the 20 MB limit"):
        decode_text(b"a" * (MAX_UPLOAD_BYTES + 1))
    assert decode_text(b"a" * 10) == "a" * 10


def test_non_utf8_names_the_byte() -> None:
    with pytest.raises(UploadError, match=r"not UTF-8 text \(invalid byte 0xe9 at byte 3\)"):
        parse_upload("t.txt", "caf\u00e9".encode("latin-1"))


def test_bom_is_dropped() -> None:
    (target,) = parse_upload("t.txt", "\ufeffhello".encode())
    assert target.text == "hello"
    (target,) = parse_upload("t.jsonl", '\ufeff{"id": "x", "text": "hi"}'.encode())
    assert target.id == "x"


def test_nul_bytes_are_refused() -> None:
    with pytest.raises(UploadError, match="NUL bytes at byte 5"):
        parse_upload("t.txt", b"hello\x00world")


def test_binary_is_refused() -> None:
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(1, 32))
    with pytest.raises(UploadError):
        parse_upload("image.txt", png)
    with pytest.raises(UploadError, match="control characters"):
        parse_upload("t.txt", b"text with a bell \x07 in it")


def test_other_extensions_are_refused() -> None:
    with pytest.raises(UploadError, match=r"only .txt"):
        parse_upload("t.html", b"<p>hi</p>")


def test_html_and_js_payloads_are_kept_as_inert_text() -> None:
    payload = "<script>alert(1)</script><img src=x onerror=alert(2)>"
    (target,) = parse_upload("t.txt", payload.encode())
    assert target.text == payload  # kept verbatim: escaping is the renderer's job
    (target,) = parse_text_box(payload, prompt="<b>p</b>")
    assert target.prompt == "<b>p</b>"


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (
            '{"id": "a", "text": "x"}\n{"id": "b", "text": }',
            r"t.jsonl:2: invalid JSON \(Expecting value at column 21\); write",
        ),
        (
            '{"id": "a", "text": "x"}\n\n["a list"]',
            r"t.jsonl:3: expected a JSON object, got an array; write each",
        ),
        ('{"id": "a", "txt": "x"}', r"t.jsonl:1: unknown key\(s\) \['txt'\]"),
        ('{"id": "a", "text": ""}', r"t.jsonl:1: 'text' is empty or whitespace-only; fill it in"),
        ('{"id": "a", "text": 5}', r"t.jsonl:1: 'text' must be a string, got a number; quote"),
        ('{"id": "a", "id": "b", "text": "x"}', r"t.jsonl:1: key\(s\) \['id'\] appear twice"),
        ('{"id": true, "text": "x"}', r"t.jsonl:1: 'id' must be"),
        ('{"id": "a", "text": "x", "prompt": 3}', r"t.jsonl:1: 'prompt' must be"),
        (
            '{"id": "a", "text": "x"}\n{"id": "a", "text": "y"}',
            r"t.jsonl:2: duplicate id 'a', first used at t.jsonl:1 with other text; give one",
        ),
        ("\n\n", r"t.jsonl is empty"),
    ],
)
def test_malformed_jsonl_names_the_line(lines: str, message: str) -> None:
    with pytest.raises(UploadError, match=message):
        parse_upload("t.jsonl", lines.encode())


def test_jsonl_without_ids_gets_hash_ids() -> None:
    targets = parse_jsonl('{"text": "one"}\n{"text": "two"}')
    assert [t.id for t in targets] == [text_id("one"), text_id("two")]


def test_text_box_id_and_prompt() -> None:
    (target,) = parse_text_box("  the text  ", prompt="  ", target_id=" mine ")
    assert (target.id, target.prompt) == ("mine", None)
    with pytest.raises(UploadError, match="empty"):
        parse_text_box("")


def test_saved_targets_are_named_by_content_and_load_back(tmp_path) -> None:
    targets = parse_upload("t.jsonl", b'{"id": "a", "text": "<i>x</i>", "prompt": "p"}')
    path = save_targets(targets, tmp_path)
    assert path.parent == (tmp_path / "uploads").resolve()
    assert save_targets(targets, tmp_path) == path  # same content, same file
    assert load_targets(path) == targets
    assert json.loads(path.read_text())["text"] == "<i>x</i>"
