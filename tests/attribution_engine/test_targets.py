"""Target files: strict JSONL with id, text and optional prompt; the write/load round trip."""

import re

import pytest

from attribution_engine.corpus import CorpusError
from attribution_engine.targets import TargetText, load_targets, write_targets


def write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def test_load_targets_in_file_order_with_optional_prompt(tmp_path):
    path = write(
        tmp_path / "t.jsonl",
        '\ufeff{"id": "t2", "text": "caf\\u0065\\u0301", "prompt": "Q:\\r\\n"}\r\n\n'
        '{"id": 1, "text": "x", "prompt": null}\n{"id": "t3", "text": "y", "prompt": ""}',
    )
    assert load_targets(path) == [
        TargetText("t2", "caf\u00e9", "Q:\n"),
        TargetText("1", "x"),
        TargetText("t3", "y"),
    ]


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ('{"id": "t2", "text": ', "invalid JSON"),
        ('{"id": "t2"}', "missing required key 'text'"),
        ('{"id": "t2", "text": "  "}', "'text' is empty"),
        ('{"id": "t2", "text": "x", "prompt": 5}', "'prompt' must be a string or null"),
        ('{"id": "t2", "text": "x", "promt": "Q"}', "unknown key(s) ['promt']"),
        ('{"id": "t1", "text": "other"}', "duplicate id 't1', first used at"),
        ("[1]", "expected a JSON object"),
    ],
)
def test_bad_target_lines_name_file_and_line(tmp_path, line, words):
    path = write(tmp_path / "t.jsonl", f'{{"id": "t1", "text": "a"}}\n{line}\n')
    with pytest.raises(CorpusError, match=re.escape(f"{path}:2: ") + ".*" + re.escape(words)):
        load_targets(path)


def test_duplicate_target_names_both_lines(tmp_path):
    path = write(tmp_path / "t.jsonl", '{"id": "t1", "text": "a"}\n\n{"id": "t1", "text": "b"}\n')
    with pytest.raises(
        CorpusError, match=re.escape(f"{path}:3: duplicate id 't1', first used at {path}:1")
    ):
        load_targets(path)


def test_empty_wrong_format_and_missing_files(tmp_path):
    with pytest.raises(CorpusError, match="no targets"):
        load_targets(write(tmp_path / "t.jsonl", "\n"))
    with pytest.raises(CorpusError, match=r"must be a \.jsonl file"):
        load_targets(write(tmp_path / "t.csv", "id,text\n"))
    with pytest.raises(CorpusError, match="no such file or directory"):
        load_targets(tmp_path / "absent.jsonl")


def test_write_targets_round_trip(tmp_path):
    targets = [TargetText("a", "one\ntwo", "Prompt: "), TargetText("b", "Zoë")]
    path = tmp_path / "out.jsonl"
    write_targets(targets, path)
    assert load_targets(path) == targets
    assert path.read_text(encoding="utf-8").splitlines()[1] == '{"id": "b", "text": "Zoë"}'
    with pytest.raises(ValueError, match="repeated target id"):
        write_targets([targets[0], targets[0]], path)
    with pytest.raises(ValueError, match="'text' is empty"):
        write_targets([TargetText("c", " ")], path)
    assert load_targets(path) == targets  # the old file is untouched


def test_target_text_is_normalised_on_construction():
    target = TargetText("e\u0301", "a\r\nb\rc\u0065\u0301", "")
    assert target == TargetText("\u00e9", "a\nb\nc\u00e9", None)
