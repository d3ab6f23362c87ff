"""Corpus ingestion: every bad input is named by file:line (strict) or listed (lenient); hashes,
NFC, duplicate groups and the write_jsonl round trip."""

import copy
import dataclasses
import hashlib
import json
import pickle
import re

import pytest

from attribution_engine.corpus import CorpusError, Document, SkippedLine, load_corpus, write_jsonl

GOOD_1 = '{"id": "a", "text": "first"}'
GOOD_3 = '{"id": "c", "text": "third"}'

# (bad line 2, words the message must contain); line 1 and line 3 are good.
BAD_LINES = {
    "invalid json": ('{"id": "b", "text": ', "invalid JSON"),
    "not an object": ('["b", "text"]', "expected a JSON object, got an array"),
    "string not object": ('"b"', "expected a JSON object, got a string"),
    "missing id": ('{"text": "x"}', "missing required key 'id'"),
    "missing text": ('{"id": "b"}', "missing required key 'text'"),
    "text is a number": ('{"id": "b", "text": 3}', "'text' must be a string, got a number"),
    "id is a list": ('{"id": ["b"], "text": "x"}', "'id' must be a string or an integer"),
    "id is a boolean": ('{"id": true, "text": "x"}', "got a boolean"),
    "id is empty": ('{"id": " ", "text": "x"}', "'id' is empty"),
    "id has a newline": ('{"id": "b\\nc", "text": "x"}', "control character"),
    "author is a number": ('{"id": "b", "text": "x", "author": 1}', "'author' must be a string"),
    "empty text": ('{"id": "b", "text": ""}', "'text' is empty or whitespace-only"),
    "whitespace text": ('{"id": "b", "text": " \\n\\t "}', "'text' is empty or whitespace-only"),
    "duplicate id, other text": ('{"id": "a", "text": "x"}', "duplicate id 'a', first used at"),
    "duplicate id, same text": ('{"id": "a", "text": "first"}', "with the same text"),
    "repeated key": ('{"id": "b", "id": "c", "text": "x"}', "['id'] appear twice"),
    "NaN": ('{"id": "b", "text": "x", "score": NaN}', "NaN is not valid JSON"),
    "lone surrogate": ('{"id": "b", "text": "\\ud800"}', "unpaired surrogate"),
}


def write(path, content):
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return path


def three_lines(tmp_path, bad):
    return write(tmp_path / "c.jsonl", f"{GOOD_1}\n{bad}\n{GOOD_3}\n")


@pytest.mark.parametrize("case", BAD_LINES, ids=list(BAD_LINES))
def test_strict_names_file_line_and_reason(tmp_path, case):
    bad, words = BAD_LINES[case]
    path = three_lines(tmp_path, bad)
    with pytest.raises(CorpusError, match=re.escape(f"{path}:2: ") + ".*" + re.escape(words)):
        load_corpus(path)


@pytest.mark.parametrize("case", BAD_LINES, ids=list(BAD_LINES))
def test_lenient_skips_and_records_the_line(tmp_path, case):
    bad, words = BAD_LINES[case]
    path = three_lines(tmp_path, bad)
    corpus = load_corpus(path, lenient=True)
    assert [doc.id for doc in corpus.documents] == ["a", "c"]
    assert corpus.documents[0].text == "first"  # of two records with one id, the first is kept
    [skipped] = corpus.skipped
    assert skipped.location == f"{path}:2" and words in skipped.reason
    assert ";" in skipped.reason  # every reason carries a fix after the semicolon


def test_duplicate_id_message_names_both_lines(tmp_path):
    path = three_lines(tmp_path, '{"id": "a", "text": "other"}')
    with pytest.raises(
        CorpusError, match=re.escape(f"{path}:2: duplicate id 'a', first used at {path}:1")
    ):
        load_corpus(path)


def test_invalid_utf8_names_the_line(tmp_path):
    path = write(tmp_path / "c.jsonl", GOOD_1.encode() + b'\n{"id": "b", "text": "\xff"}\n')
    with pytest.raises(CorpusError, match=re.escape(f"{path}:2: invalid UTF-8")):
        load_corpus(path)
    assert load_corpus(path, lenient=True).skipped[0].location == f"{path}:2"


def test_bom_crlf_blank_lines_and_no_final_newline_are_tolerated(tmp_path):
    content = (
        b'\xef\xbb\xbf{"id": "a", "text": "x\\r\\ny\\rz"}\r\n\r\n   \r\n{"id": 7, "text": "w"}'
    )
    corpus = load_corpus(write(tmp_path / "c.jsonl", content))
    assert [(d.id, d.text) for d in corpus.documents] == [("a", "x\ny\nz"), ("7", "w")]
    assert corpus.skipped == ()


@pytest.mark.parametrize("content", ["", "\n \n", '{"id": "a", "text": " "}\n'])
def test_no_usable_documents_is_an_error_even_when_lenient(tmp_path, content):
    path = write(tmp_path / "c.jsonl", content)
    with pytest.raises(CorpusError, match=re.escape(f"{path}: no usable documents")):
        load_corpus(path, lenient=True)


def test_unknown_extension_and_missing_path(tmp_path):
    path = write(tmp_path / "c.json", GOOD_1)
    with pytest.raises(CorpusError, match=r"unsupported corpus format '\.json'.*\.jsonl.*\.csv.*"):
        load_corpus(path)
    with pytest.raises(CorpusError, match="no such file or directory"):
        load_corpus(tmp_path / "absent.jsonl")


def test_fields_metadata_and_nfc(tmp_path):
    record = {"id": "e\u0301", "text": "caf\u0065\u0301", "title": "e\u0301", "author": None}
    record |= {"license": "CC-BY", "pages": [1, 2], "extra": {"k": "v"}}
    [doc] = load_corpus(write(tmp_path / "c.jsonl", json.dumps(record))).documents
    assert (doc.id, doc.text, doc.title) == ("\u00e9", "caf\u00e9", "\u00e9")
    assert doc.sha256 == hashlib.sha256("caf\u00e9".encode()).hexdigest()
    assert (doc.author, doc.license, doc.source) == (None, "CC-BY", None)
    assert dict(doc.metadata) == {"pages": [1, 2], "extra": {"k": "v"}}
    with pytest.raises(TypeError):
        doc.metadata["pages"] = 3  # type: ignore[index]
    json.dumps(dict(doc.metadata))
    assert isinstance(hash(doc), int)  # hashable although metadata is a mapping


def test_combined_hash_matches_its_documented_definition(tmp_path):
    lines = [
        '{"id": "b", "text": "two"}',
        '{"id": "a", "text": "one"}',
        '{"id": "a-2", "text": "3"}',
    ]
    corpus = load_corpus(write(tmp_path / "c.jsonl", "\n".join(lines)))
    pairs = sorted((d.id, hashlib.sha256(d.text.encode()).hexdigest()) for d in corpus.documents)
    expected = hashlib.sha256("".join(f"{i}\t{s}\n" for i, s in pairs).encode()).hexdigest()
    assert corpus.sha256 == expected
    assert [d.id for d in corpus.documents] == ["b", "a", "a-2"]  # file order is kept


def test_identical_texts_are_grouped_not_dropped(tmp_path):
    texts = {"a": "same", "b": "other", "c": "same", "d": "other", "e": "alone", "f": "same"}
    lines = [json.dumps({"id": i, "text": t}) for i, t in texts.items()]
    corpus = load_corpus(write(tmp_path / "c.jsonl", "\n".join(lines)))
    assert len(corpus.documents) == 6
    assert corpus.duplicate_groups == (("a", "c", "f"), ("b", "d"))


def test_write_jsonl_round_trip_and_format(tmp_path):
    docs = [
        Document.from_text(
            "x/1", "Zoë\r\nsays", author="Ann", url="u", metadata={"n": 1, "t": ["a"]}
        ),
        Document.from_text("x/2", "plain"),
    ]
    path = tmp_path / "out.jsonl"
    write_jsonl(docs, path)
    raw = path.read_bytes()
    assert raw.endswith(b"\n") and b"\r" not in raw and "Zoë".encode() in raw
    first = json.loads(raw.splitlines()[0])
    assert list(first) == ["id", "text", "author", "url", "n", "t"]
    assert load_corpus(path).documents == tuple(docs)
    assert [p.name for p in tmp_path.iterdir()] == ["out.jsonl"]  # no temp file left behind


@pytest.mark.parametrize(
    ("docs", "words"),
    [
        ([Document.from_text("a", "x"), Document.from_text("a", "y")], "repeated document id"),
        ([Document.from_text("a", "x"), Document.from_text("b", " ")], "would not load back"),
        ([Document("a", "e\u0301", hashlib.sha256("e\u0301".encode()).hexdigest())], "NFC"),
    ],
)
def test_write_jsonl_refuses_what_would_not_load_back_and_keeps_the_old_file(tmp_path, docs, words):
    path = write(tmp_path / "out.jsonl", "old\n")
    with pytest.raises(ValueError, match=words):
        write_jsonl(docs, path)
    assert path.read_text() == "old\n" and len(list(tmp_path.iterdir())) == 1


def test_documents_pickle_copy_and_serialise():
    doc = Document.from_text("a", "x", author="A", metadata={"k": [1, {"n": 2}]})
    assert pickle.loads(pickle.dumps(doc)) == doc == copy.deepcopy(doc)
    assert dataclasses.asdict(doc)["metadata"] == {"k": [1, {"n": 2}]}
    assert json.loads(json.dumps(doc.metadata)) == {"k": [1, {"n": 2}]}
    for mutate in (lambda m: m.update(k=0), lambda m: m.pop("k"), lambda m: m.clear()):
        with pytest.raises(TypeError, match="read-only"):
            mutate(doc.metadata)


def test_document_checks_its_own_invariants():
    with pytest.raises(ValueError, match="sha256 does not match"):
        Document(id="a", text="x", sha256="0" * 64)
    with pytest.raises(ValueError, match="metadata repeats"):
        Document.from_text("a", "x", metadata={"title": "t"})
    with pytest.raises(ValueError, match="not plain JSON"):
        Document.from_text("a", "x", metadata={"n": float("nan")})


# CSV: physical line numbers, quoted multi-line fields, BOM, empty optional fields.


def test_csv_reads_fields_and_counts_physical_lines(tmp_path):
    content = '\ufeffid,text,author,page\r\nd1,"two\r\nlines",Ann,4\r\n , \r\nd2,"a, b",,5\r\n'
    corpus = load_corpus(write(tmp_path / "c.csv", content))
    [d1, d2] = corpus.documents
    assert (d1.id, d1.text, d1.author, dict(d1.metadata)) == (
        "d1",
        "two\nlines",
        "Ann",
        {"page": "4"},
    )
    assert (d2.text, d2.author) == ("a, b", None)
    bad = write(tmp_path / "bad.csv", content + "d3, ,,\r\n")
    with pytest.raises(CorpusError, match=re.escape(f"{bad}:6: 'text' is empty")):
        load_corpus(bad)


@pytest.mark.parametrize(
    ("row", "words"),
    [
        ("d2,x,extra", "3 fields but the header has 2"),
        ("d1,again", "duplicate id 'd1', first used at"),
        ('d2,"x"y', "malformed CSV"),
        ("d2,  ", "'text' is empty"),
    ],
)
def test_csv_bad_rows(tmp_path, row, words):
    path = write(tmp_path / "c.csv", f"id,text\nd1,one\n{row}\nd3,three\n")
    with pytest.raises(CorpusError, match=re.escape(f"{path}:3: ") + ".*" + re.escape(words)):
        load_corpus(path)
    corpus = load_corpus(path, lenient=True)
    assert [d.id for d in corpus.documents] == ["d1", "d3"]
    assert [s.location for s in corpus.skipped] == [f"{path}:3"]


def test_csv_header_invalid_utf8_and_long_fields(tmp_path):
    no_text = write(tmp_path / "h.csv", "id,body\nd1,x\n")
    with pytest.raises(
        CorpusError, match=re.escape(f"{no_text}:1: bad header row (missing: ['text']")
    ):
        load_corpus(no_text, lenient=True)
    bad = write(tmp_path / "u.csv", b"id,text\nd1,ok\nd2,\xff\n")
    with pytest.raises(CorpusError, match=re.escape(f"{bad}:3: invalid UTF-8")):
        load_corpus(bad)
    with pytest.raises(CorpusError, match="no usable documents"):
        load_corpus(write(tmp_path / "empty.csv", "id,text\n"))
    long_text = "word " * 100_000  # past the csv module's default 128 KiB field limit
    [doc] = load_corpus(write(tmp_path / "long.csv", f"id,text\nd1,{long_text}\n")).documents
    assert doc.text == long_text


# Directories of .txt files.


def test_directory_of_txt_files(tmp_path):
    write((tmp_path / "b").mkdir() or tmp_path / "b" / "z.txt", b"\xef\xbb\xbfline\r\nnext")
    write(tmp_path / "a.txt", "e\u0301")
    write(tmp_path / "notes.md", "ignored")
    write((tmp_path / ".hidden").mkdir() or tmp_path / ".hidden" / "x.txt", "ignored")
    corpus = load_corpus(tmp_path)
    assert [(d.id, d.text) for d in corpus.documents] == [
        ("a.txt", "\u00e9"),
        ("b/z.txt", "line\nnext"),
    ]


def test_directory_bad_files(tmp_path):
    write(tmp_path / "a.txt", "fine")
    empty = write(tmp_path / "b.txt", "  \n")
    with pytest.raises(CorpusError, match=re.escape(f"{empty}: 'text' is empty")):
        load_corpus(tmp_path)
    broken = write(tmp_path / "c.txt", b"ok\nstill ok\n\xc3(")
    corpus = load_corpus(tmp_path, lenient=True)
    assert [d.id for d in corpus.documents] == ["a.txt"]
    assert [s.location for s in corpus.skipped] == [str(empty), f"{broken}:3"]
    assert isinstance(corpus.skipped[0], SkippedLine)


def test_directory_without_txt_files(tmp_path):
    write(tmp_path / "readme.md", "no texts here")
    with pytest.raises(CorpusError, match="no usable documents"):
        load_corpus(tmp_path, lenient=True)
