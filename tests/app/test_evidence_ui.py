"""Evidence and reports in the UI (issues 5 and 6): the evidence beside the values, the
highlighted detail view (inert for hostile corpus text), the value-vs-similarity scatter, and
the report download whose JSON verifies.

The first evidence computation in a process loads all-MiniLM-L6-v2 (seconds); later ones
reuse it (attribution_engine.embeddings keeps the model per process).
"""

from __future__ import annotations

import hashlib
import json
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import update
from streamlit.testing.v1 import AppTest

from app import data, evidence_view, report_download
from app.highlight import highlight_html
from db.models import Run
from db.session import make_engine, make_sessionmaker, session_scope
from provenance.reports import failed, prepare_report, render, verify
from tests.app.conftest import (
    APP_DIR,
    HOSTILE_TEXT,
    KNOWN_TARGET,
    KNOWN_TEXT,
    KNOWN_TOP,
    RUN,
)

TIMEOUT = 120  # the evidence button loads the embedding model


def page(name: str) -> AppTest:
    return AppTest.from_file(str(APP_DIR / "views" / f"{name}.py"), default_timeout=TIMEOUT)


class Markup(HTMLParser):
    """Every tag, attribute and text node of an HTML fragment."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str | None]] = []
        self.text: list[str] = []
        self.marked: list[str] = []
        self._depth = 0

    def handle_starttag(self, tag, attrs) -> None:
        self.tags.append(tag)
        self.attrs += attrs
        self._depth += tag == "mark"

    def handle_endtag(self, tag) -> None:
        self._depth -= tag == "mark"

    def handle_data(self, data) -> None:
        self.text.append(data)
        if self._depth:
            self.marked.append(data)


def parsed(fragment: str) -> Markup:
    markup = Markup()
    markup.feed(fragment)
    markup.close()
    return markup


def assert_inert(fragment: str, text: str) -> Markup:
    """Only our own tags and style attributes; the user's text comes back as text, whole."""
    markup = parsed(fragment)
    assert set(markup.tags) <= {"div", "mark"}, markup.tags
    assert {name for name, _ in markup.attrs} <= {"style"}, markup.attrs
    assert all("javascript" not in (v or "") and "url(" not in (v or "") for _, v in markup.attrs)
    assert "".join(markup.text) == text
    return markup


HOSTILE = [
    HOSTILE_TEXT,
    '<script>alert("x")</script>',
    "<img src=x onerror=alert(1)>",
    "[x](javascript:alert(1)) and ![i](javascript:alert(2))",
    "\"><svg onload=alert(1)> ' & &amp; &lt;b&gt; </mark></div><iframe src=//evil>",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_highlighted_html_is_inert_for_hostile_text(text: str) -> None:
    n = len(text)
    fragment = highlight_html(text, [[0, n // 2], [n // 3, n]], (1, max(2, n // 4)))
    markup = assert_inert(fragment, text)
    assert markup.marked  # the ranges are marked
    assert "<script" not in fragment and "<img" not in fragment and "<svg" not in fragment


def test_highlight_marks_exact_ranges_and_clips_stale_ones() -> None:
    text = "abc <b>def</b> ghi"
    markup = assert_inert(highlight_html(text, [[4, 14]], (15, 18)), text)
    assert markup.marked == ["<b>def</b>", "ghi"]
    # Offsets past the end (a text changed since) are clipped, empty ones dropped.
    markup = assert_inert(highlight_html(text, [[10, 500], [3, 3]], (None, None)), text)
    assert markup.marked == ["</b> ghi"]
    assert_inert(highlight_html("", [[0, 5]], (0, 2)), "")


def test_evidence_frames_keep_order_and_empty_cells() -> None:
    values = pd.DataFrame({"doc_key": ["b", "a", "c"], "value": [0.3, 0.2, -0.1]})
    found = pd.DataFrame(
        [
            {"doc_key": "a", "label": "verbatim", "span_words": 14, "ngram_overlap": 1.0,
             "similarity": 0.9, "bm25": 3.0, "ranges": {}},
        ]
    )  # fmt: skip
    merged = evidence_view.with_evidence(values, found)
    assert list(merged["doc_key"]) == ["b", "a", "c"]
    assert merged["label"].tolist()[1] == "verbatim" and merged["label"].isna().sum() == 2
    none = evidence_view.with_evidence(values, found.iloc[:0])
    assert list(none.columns) == ["doc_key", "value", *evidence_view.SHOWN]
    assert evidence_view.missing(["b", "a", "b", "c"], found) == ["b", "c"]
    assert evidence_view.scatter_frame(values, found).to_dict("records") == [
        {"doc_key": "a", "value": 0.2, "similarity": 0.9}
    ]
    assert evidence_view.highlights(found, "b") is None


def tables(at: AppTest) -> list[pd.DataFrame]:
    """The ranking tables shown, in page order: top contributors, then harmful documents
    (AppTest does not expose table keys)."""
    return [e.value for e in at.dataframe if {"specific_value", "label"} <= set(e.value.columns)]


def test_attribution_evidence_scatter_and_highlights(seeded: str) -> None:
    at = page("attribution").run()
    at.selectbox(key="attribution_target").set_value(KNOWN_TARGET).run()
    assert (tables(at)[0]["label"] == "").all()  # nothing computed yet (blank, never None)
    charts = len(at.get("plotly_chart"))

    at.button(key="attribution_evidence").click().run()
    assert not at.exception, [e.value for e in at.exception]
    top = tables(at)[0].set_index("doc_key")
    assert top.loc[KNOWN_TOP, "label"] == "verbatim"
    assert top.loc[KNOWN_TOP, "span_words"] == 14  # the whole target, word for word
    assert top.loc[KNOWN_TOP, "similarity"] == pytest.approx(1.0, abs=1e-3)
    assert "doc-noise" not in top.index  # negative: harmful, never a listed contributor
    harmful = tables(at)[1]
    assert harmful["doc_key"].tolist() == ["doc-noise"] and harmful["label"].tolist() == ["diffuse"]
    assert not any(b.key == "attribution_evidence" for b in at.button)  # all computed

    # The scatter is drawn from the evidence (one more chart, titled as figures.py names it).
    specs = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    assert len(specs) == charts + 1
    scatter = next(
        s for s in specs if s["layout"]["title"]["text"] == "Value vs semantic similarity"
    )
    shown = sorted([*top.index, "doc-noise"])  # x, y are binary
    assert sorted(scatter["data"][0]["hovertext"]) == shown

    # Detail of the top document: the target's copied run is highlighted on both sides.
    # First the target's shared spans, numbered (app/spans.py), then the detail's two texts.
    spans_html, document_html, target_html = (h.proto.body for h in at.get("html"))
    assert KNOWN_TEXT[:-1] in spans_html and "<sup" in spans_html
    assert "".join(assert_inert(target_html, KNOWN_TEXT).marked) == KNOWN_TEXT[:-1]
    assert "".join(assert_inert(document_html, KNOWN_TEXT).marked) == KNOWN_TEXT[:-1]

    # A hostile document: highlighted next to its markup, which stays text.
    next(s for s in at.selectbox if s.label == "Document").set_value("doc-d").run()
    assert not at.exception
    _, document_html, _ = (h.proto.body for h in at.get("html"))
    marked = assert_inert(document_html, HOSTILE_TEXT).marked
    assert "We hold these truths to be self-evident" in marked


def test_report_is_rendered_on_click_and_its_json_verifies(seeded: str, tmp_path: Path) -> None:
    at = page("downloads").run()
    assert not at.exception
    # Nothing is rendered until a Prepare button is pressed.
    assert not [b for b in at.get("download_button") if "_download_" in b.key]
    shown_target = at.selectbox(key="downloads_target").value
    for fmt in report_download.FORMATS:
        assert (
            report_download.state_key("downloads", RUN, shown_target, fmt) not in at.session_state
        )

    at.selectbox(key="downloads_target").set_value(KNOWN_TARGET).run()
    at.button(key="downloads_prepare_json").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert [b.key for b in at.get("download_button") if "_download_" in b.key] == [
        "downloads_download_json"
    ]
    content, digest, step = at.session_state[
        report_download.state_key("downloads", RUN, KNOWN_TARGET, "json")
    ]
    assert json.loads(content)["sha256"] == digest
    assert json.loads(content)["report"]["run"]["committed_step"] == step
    assert any(digest in c.value for c in at.caption)  # the hash is shown beside the button
    path = tmp_path / "report.json"
    path.write_bytes(content)
    checks = verify(path, factory=make_sessionmaker(make_engine(seeded)))
    assert checks and not failed(checks), [str(c) for c in failed(checks)]
    # data.report assembles the report as `provenance report` does; the bytes are the same.
    again = prepare_report(make_sessionmaker(make_engine(seeded), write=True), RUN, KNOWN_TARGET)
    assert (render(again, "json"), again["sha256"]) == (content, digest)
    report = json.loads(content)["report"]
    assert report["contributors"][0]["doc_key"] == KNOWN_TOP

    # CSV from the Attribution page: it prints the same JSON report's hash.
    at = page("attribution").run()
    at.selectbox(key="attribution_target").set_value(KNOWN_TARGET).run()
    at.button(key="attribution_prepare_csv").click().run()
    content, csv_digest, _ = at.session_state[
        report_download.state_key("attribution", RUN, KNOWN_TARGET, "csv")
    ]
    assert csv_digest == digest and digest.encode() in content
    assert hashlib.sha256(content).hexdigest() != digest  # a CSV names the JSON's hash


def test_report_file_names_are_safe() -> None:
    name = report_download.file_name("run/../x", "<t> 1", "pdf")
    assert name == "provenance-report_run-..-x_-t-1.pdf"


def test_a_prepared_report_is_withdrawn_when_the_run_commits_newer_values(seeded: str) -> None:
    """A report prepared at one step is not offered once the run's ledger holds a later step
    (a worker committed while the page was open): it would show old numbers."""
    at = page("downloads").run()
    at.selectbox(key="downloads_target").set_value(KNOWN_TARGET).run()
    at.button(key="downloads_prepare_json").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert [b.key for b in at.get("download_button") if "_download_" in b.key]
    _, _, step = at.session_state[report_download.state_key("downloads", RUN, KNOWN_TARGET, "json")]

    with session_scope(make_sessionmaker(make_engine(seeded), write=True)) as session:
        session.execute(
            update(Run).where(Run.run_key == RUN).values(committed_step=Run.committed_step + 1)
        )
    data.runs.clear()  # the page's 5 s read cache, as if it had expired
    at.run()
    assert not at.exception
    assert not [b for b in at.get("download_button") if "_download_" in b.key]
    assert any(
        f"shows step {step}" in c.value
        and f"up to step {step + 1}" in c.value
        and "Prepare it again" in c.value
        for c in at.caption
    )
