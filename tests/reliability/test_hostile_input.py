"""Hostile input, property-based (Hypothesis): uploads (provenance/uploads.py) and corpus files
(attribution_engine/corpus.py, records.py) made of invalid UTF-8, BOMs, UTF-16, NUL bytes,
huge single lines, control and bidi characters, HTML/JS payloads, path-like file names and
malformed JSONL/CSV.

Properties: the only exceptions are the documented ones (UploadError, CorpusError), each
naming the file (and line) it is about; nothing is written outside the data directory; what is
accepted loads back equal; user text rendered as HTML (the UI's highlight helper, the HTML
report's marking, the charts' labels) stays inert text: parsing the HTML gives back exactly
the user's characters and no tag or attribute of theirs.

Fast: 25 examples per property (100 in all); full: 300 per property (1,200 in all).
"""

from __future__ import annotations

import csv
import io
import json
import tempfile
import unicodedata
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reliability_helpers import full

from app.highlight import highlight_html
from attribution_engine.corpus import CorpusError, load_corpus
from attribution_engine.targets import load_targets
from provenance.figures import top_documents_figure
from provenance.reports.html import _mark
from provenance.uploads import UploadError, parse_text_box, parse_upload, save_targets


def _settings(n: int):
    return settings(
        max_examples=n,
        deadline=None,
        database=None,  # no .hypothesis/ directory in the repository
        derandomize=n < 100,  # the fast subset is the same in every CI run
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.filter_too_much,
        ],
    )


FAST, FULL = _settings(25), _settings(300)

PAYLOADS = [
    "<script>alert(1)</script>",
    '<img src=x onerror="alert(1)">',
    "</textarea><svg onload=alert(1)>",
    "[x](javascript:alert(1)) ![y](http://attacker/p.png)",
    "'; DROP TABLE documents; --",
    "{{7*7}} ${7*7} %s %n",
    "=HYPERLINK(\"http://x\") +cmd|' /C calc'!A0",
    "\u202eevil\u202c \u2066rtl\u2069 \u200b\u200d\ufeff",  # bidi, zero-width, inner BOM
    "\x07\x08\x0b\x0c\x1b[31m\x7f\x85\u2028\u2029",  # controls, ANSI escape, NEL, separators
    "\ud800",  # a lone surrogate (only as \\ud800 in JSON)
    "../../../etc/passwd",
    "C:\\Windows\\system32",
    "e\u0301 \ufb01 \u212b",  # NFC changes these
]
HUGE = 2**20  # a 1 MiB single line


def _encoded(text: str) -> st.SearchStrategy[bytes]:
    return st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "latin-1"]).map(
        lambda codec: text.encode(codec, "surrogatepass" if codec.startswith("utf") else "replace")
    )


TEXT = st.one_of(
    st.text(max_size=60),
    st.sampled_from(PAYLOADS),
    st.lists(st.sampled_from(PAYLOADS) | st.text(max_size=10), max_size=5).map("".join),
)
CHUNK = st.one_of(
    TEXT.flatmap(_encoded),
    st.binary(max_size=40),
    st.sampled_from([b"\x00", b"\xef\xbb\xbf", b"\xff\xfe", b"\r\n", b"\r", b"\n", b"\xc3"]),
    st.sampled_from([0] * 15 + [HUGE]).map(lambda n: b"x" * n),
)
RAW = st.lists(CHUNK, max_size=8).map(b"".join)
VALUE = st.one_of(
    TEXT,
    st.none(),
    st.integers(),
    st.floats(allow_nan=False),
    st.booleans(),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)
KEY = st.sampled_from(["id", "text", "prompt", "source", "title", "extra", "ID", "text "])
RECORD = st.dictionaries(KEY, VALUE, max_size=5)
WELL_FORMED = st.fixed_dictionaries(
    {"id": st.one_of(TEXT, st.integers()), "text": TEXT}, optional={"prompt": st.none() | TEXT}
)
JSON_LINE = st.one_of(
    WELL_FORMED.map(lambda r: json.dumps(r).encode()),  # escapes: \\u0000, \\ud800, ...
    WELL_FORMED.map(lambda r: json.dumps(r, ensure_ascii=False).encode("utf-8", "surrogatepass")),
    RECORD.map(lambda r: json.dumps(r, ensure_ascii=False).encode("utf-8", "surrogatepass")),
    RECORD.map(lambda r: json.dumps(r).encode()),  # \\u escapes, lone surrogates included
    st.sampled_from(
        [b"{", b'{"id": "a", "text": "t", "id": "b"}', b"[1, 2]", b"NaN", b'{"text": NaN}']
    ),
    st.sampled_from([0] * 15 + [HUGE]).map(lambda n: json.dumps({"id": "big", "text": "w " * n})),
    RAW,
).map(lambda line: line if isinstance(line, bytes) else line.encode())
JSONL = st.lists(JSON_LINE, max_size=6).flatmap(
    lambda lines: st.sampled_from([b"\n", b"\r\n", b"\r"]).map(lambda end: end.join(lines))
)
NAME = st.one_of(
    st.sampled_from(
        [
            "targets.jsonl",
            "t.txt",
            "../../escape.jsonl",
            "/etc/passwd.txt",
            "..\\..\\win.txt",
            "a/b/c.JSONL",
            "con.txt",
            ".hidden.jsonl",
            "x.jsonl.exe",
            "noext",
            "\u202etxt.exe.jsonl",
            "<img src=x onerror=alert(1)>.txt",
        ]
    ),
    st.text(max_size=20).map(lambda s: s + ".jsonl"),
)


def _files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*")}


# --- uploads -----------------------------------------------------------------------------------


def unsavable(targets) -> str | None:
    """What no accepted upload may hold: JSON escapes (\\u0008, \\ud800, \\u0000) that
    appear only once a line is decoded (provenance/uploads.py checks the decoded fields too)."""
    for t in targets:
        fields = [t.id, t.text, t.prompt or ""]
        if any(unicodedata.category(c) == "Cs" for f in fields for c in f):
            return "a lone surrogate (JSON \\ud800 escape) is accepted, then save_targets fails"
        if any(unicodedata.category(c) == "Cc" for c in t.id):
            return "an id with a control character is accepted, then save_targets fails"
        if any(c in _BINARY for c in t.text):
            return "a NUL or binary control character (JSON escape) in the text is accepted"
    return None


_BINARY = {chr(c) for c in range(32)} - set("\t\n\r\f\v")


def check_upload(name: str, data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        data_dir = root / "data"
        before = _files(root)
        try:
            targets = parse_upload(name, data)
        except UploadError as err:
            assert str(err) and name in str(err), "a rejection must name the upload"
            return
        assert unsavable(targets) is None
        assert targets and all(t.text.strip() and "\x00" not in t.text for t in targets)
        path = save_targets(targets, data_dir)
        written = _files(root) - before
        inside = data_dir.resolve()
        assert written and all(
            p.resolve() == inside or inside in p.resolve().parents for p in written
        )
        assert path.parent == (data_dir / "uploads").resolve()
        assert load_targets(path) == targets  # what was accepted loads back, equal
        for target in targets:
            check_inert(target.text)


@FAST
@given(NAME, st.one_of(RAW, JSONL))
def test_hostile_uploads(name, data):
    check_upload(name, data)


@full
@FULL
@given(NAME, st.one_of(RAW, JSONL))
def test_hostile_uploads_full(name, data):
    check_upload(name, data)


def check_text_box(text: str, prompt: str, target_id: str) -> None:
    try:
        (target,) = parse_text_box(text, prompt, target_id)
    except UploadError as err:
        assert "the text box" in str(err)
        return
    with tempfile.TemporaryDirectory() as tmp:
        assert load_targets(save_targets([target], Path(tmp))) == [target]


# Any id, control characters and lone surrogates included: parse_text_box must refuse those.
ID = TEXT
# A browser cannot send a lone surrogate (it encodes the form as UTF-8).
BROWSER = TEXT.filter(lambda s: not any(unicodedata.category(c) == "Cs" for c in s))


@FAST
@given(BROWSER, BROWSER, ID)
def test_hostile_text_box(text, prompt, target_id):
    check_text_box(text, prompt, target_id)


@full
@FULL
@given(BROWSER, BROWSER, ID)
def test_hostile_text_box_full(text, prompt, target_id):
    check_text_box(text, prompt, target_id)


@pytest.mark.parametrize("target_id", ["a\x08b", "\ud800", "tab\there", "del\x7f"])
def test_text_box_id_with_control_characters_is_refused_with_upload_error(target_id):
    check_text_box("some text", "", target_id)


@pytest.mark.parametrize(
    "line",
    [
        b'{"id": "a\\u0008", "text": "x"}',
        b'{"id": "a", "text": "\\ud800"}',
        b'{"id": "a", "text": "x", "prompt": "\\udfff"}',
        b'{"id": "a", "text": "x\\u0000y"}',
    ],
)
def test_jsonl_escapes_are_checked_like_raw_characters(line):
    try:
        targets = parse_upload("t.jsonl", line)
    except UploadError:
        return
    assert unsavable(targets) is None
    with tempfile.TemporaryDirectory() as tmp:
        save_targets(targets, Path(tmp))


# --- corpus files -------------------------------------------------------------------------------


def _csv_bytes(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue().encode("utf-8", "surrogatepass")


CSV = st.one_of(
    st.lists(st.lists(TEXT, min_size=1, max_size=4), max_size=5).map(
        lambda rows: _csv_bytes([["id", "text", "source"], *rows])
    ),
    RAW.map(lambda raw: b"id,text\n" + raw),
    RAW,
)


def check_corpus(kind: str, data: bytes, file_name: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        if kind == "dir":
            path = root / "corpus"
            relative = Path(file_name.replace("\x00", "").lstrip("/").replace("..", "__"))
            target = path / relative.with_suffix(".txt")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        else:
            path = root / f"corpus.{kind}"
            path.write_bytes(data)
        before = {p: p.stat().st_mtime_ns for p in _files(root)}
        for lenient in (False, True):
            try:
                corpus = load_corpus(path, lenient=lenient)
            except CorpusError as err:
                assert str(path) in str(err), "a rejection must name the file (and line)"
                continue
            for document in corpus.documents:
                assert document.text.strip() and "\x00" not in document.id
                check_inert(document.text)
            for skipped in corpus.skipped:
                assert str(path) in str(skipped)
        assert {p: p.stat().st_mtime_ns for p in _files(root)} == before  # reading only


CORPUS = st.one_of(
    st.tuples(st.just("jsonl"), JSONL),
    st.tuples(st.just("csv"), CSV),
    st.tuples(st.just("dir"), RAW),
)


@FAST
@given(CORPUS, NAME)
def test_hostile_corpus_files(kind_data, file_name):
    check_corpus(*kind_data, file_name)


@full
@FULL
@given(CORPUS, NAME)
def test_hostile_corpus_files_full(kind_data, file_name):
    check_corpus(*kind_data, file_name)


# --- rendering ----------------------------------------------------------------------------------


class _Inert(HTMLParser):
    """Collects the tags, attributes and text of an HTML fragment."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags, self.text = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, tuple(name for name, _ in attrs)))

    def handle_startendtag(self, tag, attrs):
        self.tags.append((tag, tuple(name for name, _ in attrs)))

    def handle_data(self, data):
        self.text.append(data)

    def handle_comment(self, data):
        self.tags.append(("<!--", ()))

    def handle_decl(self, decl):
        self.tags.append(("<!", ()))

    def unknown_decl(self, data):
        self.tags.append(("<![", ()))

    def handle_pi(self, data):
        self.tags.append(("<?", ()))


def _parse(fragment: str) -> _Inert:
    parser = _Inert()
    parser.feed(fragment)
    parser.close()
    return parser


def check_inert(text: str, ranges: tuple[tuple[int, int], ...] = ((0, 5), (3, 9))) -> None:
    """The UI's and the report's HTML of `text` holds exactly its characters, as text."""
    ui = _parse(highlight_html(text, ranges, (1, 4)))
    assert {tag for tag, _ in ui.tags} <= {"div", "mark"}
    assert {attrs for _, attrs in ui.tags} <= {("style",)}
    assert (
        "".join(ui.text) == text.replace("\r\n", "\n").replace("\r", "\n")
        or "".join(ui.text) == text
    )
    report = _parse(_mark(text, [list(r) for r in ranges]))
    assert {tag for tag, _ in report.tags} <= {"mark"} and not any(a for _, a in report.tags)
    assert "".join(report.text) in (text, text.replace("\r\n", "\n").replace("\r", "\n"))


def check_figure(doc_key: str, title: str, source: str) -> None:
    frame = pd.DataFrame(
        {
            "rank": [1],
            "doc_key": [doc_key],
            "value": [1.0],
            "raw_value": [1.0],
            "share": [1.0],
            "source": [source],
            "title": [title],
        }
    )
    bar = top_documents_figure(frame).data[0]
    for label in [*bar.y, *bar.hovertext]:
        parsed = _parse(label)
        assert {tag for tag, _ in parsed.tags} <= {"br"}  # Plotly renders only our <br>
    assert "".join(_parse(bar.y[0]).text) == doc_key


# Ledger text never holds a lone surrogate (the corpus loader refuses them), and evidence
# ranges are ordered, non-overlapping [start, end) pairs.
STORED = TEXT.filter(lambda s: not any(0xD800 <= ord(c) < 0xE000 for c in s))
RANGES = st.lists(st.integers(0, 80), max_size=8, unique=True).map(
    lambda cuts: tuple(zip(sorted(cuts)[::2], sorted(cuts)[1::2], strict=False))
)


@FAST
@given(STORED, STORED, STORED, RANGES)
def test_user_text_renders_inert(text, title, source, ranges):
    check_inert(text, ranges)
    check_figure(text, title, source)


@full
@FULL
@given(STORED, STORED, STORED, RANGES)
def test_user_text_renders_inert_full(text, title, source, ranges):
    check_inert(text, ranges)
    check_figure(text, title, source)


def test_an_upload_over_the_size_limit_is_refused_before_decoding():
    from provenance.uploads import MAX_UPLOAD_BYTES

    data = b"\xff" * (MAX_UPLOAD_BYTES + 1)
    try:
        parse_upload("big.txt", data)
    except UploadError as err:
        assert "big.txt" in str(err) and "limit" in str(err)
    else:
        raise AssertionError("a 20 MiB + 1 byte upload was accepted")


def test_report_marking_ignores_an_inverted_range():
    assert "".join(_parse(_mark("0", [[1, 0]])).text) == "0"
