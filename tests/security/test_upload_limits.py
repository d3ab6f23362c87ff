"""Items 6 and 9 of issue 18: an upload cannot make a million targets, a page render does not
parse the saved uploads again, a refusal is one short line whatever the file holds, and deep
nesting or a 5,000-digit id is a file:line refusal, not a RecursionError or ValueError."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from attribution_engine.records import CorpusError
from attribution_engine.targets import load_targets
from provenance import pending
from provenance.uploads import MAX_UPLOAD_TARGETS, UploadError, parse_upload, save_targets


def test_upload_of_a_million_targets_is_refused_fast() -> None:
    data = b"".join(b'{"text":"%x"}\n' % i for i in range(1_048_576))[: 19 * 2**20]
    started = time.perf_counter()
    with pytest.raises(UploadError, match=f"over the {MAX_UPLOAD_TARGETS} targets") as caught:
        parse_upload("many.jsonl", data)
    assert time.perf_counter() - started < 5  # the issue measured 25 s and 492 MB
    assert len(str(caught.value).splitlines()) == 1


def test_upload_with_megabytes_of_unknown_keys_gets_a_short_message() -> None:
    record = {"id": "t1", "text": "x", **{f"k{i:07d}": 0 for i in range(600_000)}}
    with pytest.raises(UploadError) as caught:
        parse_upload("keys.jsonl", json.dumps(record).encode())
    message = str(caught.value)
    assert message.startswith("keys.jsonl:1: unknown key(s)")
    assert len(message) < 500 and "\n" not in message  # was 10 MB


@pytest.mark.parametrize(
    "line, problem",
    [
        (b"[" * 100_000, "nested too deeply"),
        (b'{"id": "t", "text": ' + b"[" * 50_000 + b"]" * 50_000 + b"}", "nested too deeply"),
        (b'{"id": ' + b"7" * 5_000 + b', "text": "x"}', "number too long"),
    ],
    ids=["array", "in-a-field", "5000-digit-id"],
)
def test_deeply_nested_json_upload_is_refused_with_file_line(line: bytes, problem: str, tmp_path):
    data = b'{"id": "ok", "text": "fine"}\n' + line + b"\n"
    with pytest.raises(UploadError, match=f"^u.jsonl:2: .*{problem}"):
        parse_upload("u.jsonl", data)
    path = tmp_path / "targets.jsonl"  # `train --targets` / `attribute --targets` read it so
    path.write_bytes(data)
    with pytest.raises(CorpusError, match=f"targets.jsonl:2: .*{problem}"):
        load_targets(path)


def test_duplicate_keys_are_refused_in_uploads_as_in_corpora() -> None:
    with pytest.raises(UploadError, match="appear twice"):
        parse_upload("d.jsonl", b'{"id": "a", "id": "b", "text": "x"}\n')


def test_saved_uploads_are_not_parsed_again_at_every_render(tmp_path: Path, monkeypatch) -> None:
    from app import data

    for i in range(3):
        save_targets(parse_upload(f"u{i}.jsonl", b'{"id": "t%d", "text": "x"}\n' % i), tmp_path)
    calls = []
    real = pending.load_targets
    monkeypatch.setattr(pending, "load_targets", lambda p: calls.append(p) or real(p))
    data._pending_targets.clear()
    for _ in range(5):  # five renders of the Targets page
        assert len(data.pending_targets(tmp_path)) == 3
    assert len(calls) == 3  # each file once
    save_targets(parse_upload("u9.jsonl", b'{"id": "t9", "text": "x"}\n'), tmp_path)
    assert len(data.pending_targets(tmp_path)) == 4  # a new file is seen at once
