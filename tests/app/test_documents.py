"""The Documents page, the "my document" view, the Attribution page's click-through and paging,
shared spans, and run status (issue 19 items 4, 5): AppTest on the fixture ledger
(tests/app/conftest.py) and the pure pieces without Streamlit."""

from __future__ import annotations

from html.parser import HTMLParser
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import streamlit as st
from sqlalchemy import text
from streamlit.testing.v1 import AppTest

from app import document_view, spans, ui
from app.highlight import numbered_spans_html
from db.catalog import DocumentDetail
from db.session import make_engine, make_sessionmaker, session_scope
from db.values import DocumentVisits, write_visits
from tests.app.conftest import ENTRY, HOSTILE_TEXT, KNOWN_TARGET, KNOWN_TOP, RUN
from tests.app.test_pages import page, texts

HOSTILE_QUERIES = [
    "%",
    "_",
    "%_%\\",
    "' OR 1=1; DROP TABLE documents; --",
    "<script>alert(1)</script>",
    "[x](javascript:alert(1))",
]


def search(at: AppTest, query: str, field: str = "any") -> AppTest:
    at.selectbox(key="documents_field").set_value(field)
    return at.text_input(key="documents_query").set_value(query).run()


def results(at: AppTest) -> pd.DataFrame:
    return next(d.value for d in at.dataframe if "matched" in d.value.columns)


def ok(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


# --- the Documents page ------------------------------------------------------------------------


def test_search_by_id_title_and_text_then_open_the_document(seeded: str) -> None:
    at = page("documents").run()
    ok(at)
    assert "search the 8 documents" in texts(at)
    assert list(results(search(at, "DOC-COPY", "id"))["doc_key"]) == ["doc-copy"]
    assert list(results(search(at, "declaration", "title"))["doc_key"]) == ["doc-copy"]
    hits = results(search(at, "self-evident", "text"))
    assert set(hits["doc_key"]) == {"doc-copy", "doc-d"}
    assert "self-evident" in hits.iloc[0]["excerpt"]
    at.session_state[document_view.OPEN_STATE] = (1, KNOWN_TOP)  # what a row selection sets
    at.run()
    ok(at)
    written = texts(at)
    assert f"Trained on in run {RUN}" in written or f"Run {RUN} has no targets" in written
    meta = next(d.value for d in at.dataframe if "sha256" in d.value.columns)
    assert meta.iloc[0]["title"] == "Declaration" and meta.iloc[0]["source"] == "Acme Press"
    per_target = next(d.value for d in at.dataframe if "rank_specific" in d.value.columns)
    assert list(per_target["target_key"]) == [KNOWN_TARGET, "t-other"]
    assert per_target.iloc[0]["rank_specific"] == 1
    assert per_target.iloc[0]["specific"] == pytest.approx(0.5)


def test_the_page_on_an_empty_ledger(empty: str) -> None:
    at = search(page("documents").run(), "anything")
    ok(at)
    assert not at.error and "No document" in texts(at)


def test_search_and_document_on_postgresql(seeded_pg: str) -> None:
    at = search(page("documents").run(), "%", "title")  # a wildcard matches only itself
    ok(at)
    assert "No document" in texts(at)
    hits = results(search(at, "SELF-EVIDENT", "text"))
    assert set(hits["doc_key"]) == {"doc-copy", "doc-d"}  # ILIKE: case ignored
    at.session_state[document_view.OPEN_STATE] = (1, KNOWN_TOP)
    at.run()
    ok(at)
    assert any("rank_specific" in d.value.columns for d in at.dataframe)


@pytest.mark.parametrize("query", HOSTILE_QUERIES)
def test_hostile_searches_match_only_themselves(seeded: str, query: str) -> None:
    at = search(page("documents").run(), query)
    ok(at)
    assert not at.error
    found = [d.value for d in at.dataframe if "matched" in d.value.columns]
    if query == "<script>alert(1)</script>":
        assert not found  # the fixture holds <script>alert('x')</script>, not this
    if query.startswith("'"):
        assert not found
    assert "No document" in texts(at) or found


def test_empty_and_huge_searches_say_what_to_do(seeded: str) -> None:
    at = search(page("documents").run(), "   ")
    ok(at)
    assert not at.error and "search the 8 documents" in texts(at)
    at = search(at, "lamp " * 2_000)  # 10 kB
    ok(at)
    assert at.error and "at most 300" in at.error[0].value


def test_a_link_to_a_missing_document_or_corpus_says_so(seeded: str) -> None:
    at = page("documents")
    at.query_params["corpus"] = "1"
    at.query_params["doc"] = "no-such-doc"
    at.run()
    ok(at)
    assert "no document no\\-such\\-doc in corpus 1" in texts(at)
    at = page("documents")
    at.query_params["corpus"] = "x1"
    at.query_params["doc"] = KNOWN_TOP
    at.run()
    ok(at)
    assert "names no corpus" in texts(at)
    at = page("documents")
    at.query_params["corpus"] = "1"
    at.query_params["doc"] = KNOWN_TOP
    at.run()
    ok(at)
    assert any("sha256" in d.value.columns for d in at.dataframe)


def test_a_document_the_run_never_trained_on_says_so(seeded: str) -> None:
    at = page("documents").run()
    at.session_state[document_view.OPEN_STATE] = (1, "doc-b")
    at.run()
    ok(at)
    assert "no per-step record of when" in texts(at)  # the fixture's seed recorded none
    engine = make_engine(seeded)
    factory = make_sessionmaker(engine, write=True)
    with session_scope(factory) as session:  # four steps of two rows, never doc-b (id 4)
        for step in range(4):
            write_visits(session, RUN, KNOWN_TARGET, step, np.array([1, 3]), np.ones(2))
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM document_values WHERE id % 4294967296 = 4"))
    engine.dispose()
    st.cache_data.clear()
    at.run()
    ok(at)
    assert f"Never trained on in run {RUN}: none of its 4 steps used it." in texts(at)
    assert f"Run {RUN} trained on 7 of the 8 documents of its corpus." in texts(at)
    at.session_state[document_view.OPEN_STATE] = (1, KNOWN_TOP)
    at.run()
    assert f"Trained on in run {RUN}: 4 of its 4 steps used it, steps 1, 2, 3, 4." in texts(at)


# --- the Attribution page ----------------------------------------------------------------------


def test_any_number_of_documents_is_paged(seeded: str) -> None:
    at = page("attribution").run()
    at.selectbox(key="attribution_target").set_value(KNOWN_TARGET).run()
    at.radio(key="attribution_by").set_value("specific").run()
    at.number_input(key="attribution_k").set_value(500).run()
    ok(at)
    top = next(d.value for d in at.dataframe if "share" in d.value.columns)
    assert len(top) == 8  # every document the run trained on: the table is not capped
    assert "url" in top.columns


def test_a_document_asked_for_elsewhere_opens_in_the_detail(seeded: str) -> None:
    at = page("attribution").run()
    at.selectbox(key="attribution_target").set_value(KNOWN_TARGET).run()
    at.session_state[document_view.ATTRIBUTION_DOC_STATE] = "doc-noise"
    at.run()
    ok(at)
    assert next(s for s in at.selectbox if s.label == "Document").value == "doc-noise"
    at.session_state[document_view.ATTRIBUTION_DOC_STATE] = "not-in-corpus"
    at.run()
    ok(at)
    assert "has no document not\\-in\\-corpus" in texts(at)


def test_a_running_run_is_not_the_default_and_carries_its_step(seeded: str) -> None:
    engine = make_engine(seeded)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO runs (run_key, kind, corpus_id, recipe, status, committed_step, "
                "created, updated) SELECT 'run-newer', kind, corpus_id, recipe, 'running', 2, "
                "created, updated FROM runs WHERE run_key = :run"
            ),
            {"run": RUN},
        )
        connection.execute(
            text(
                "INSERT INTO targets (run_id, target_key, text, origin) SELECT id, 't-new', "
                "'new text', 'uploaded' FROM runs WHERE run_key = 'run-newer'"
            )
        )
    engine.dispose()
    at = page("attribution").run()
    ok(at)
    picker = at.selectbox(key="attribution_run")
    assert picker.value == RUN  # the finished run, though run-newer is newer
    picker.set_value("run-newer").run()
    ok(at)
    assert any("still training: values up to step 2 of 4" in w.value for w in at.warning)


def test_a_deleted_run_in_the_session_is_explained(seeded: str) -> None:
    at = page("attribution")
    at.session_state[ui.RUN_STATE] = "run-deleted"
    at.run()
    ok(at)
    assert "run\\-deleted is not in the ledger" in texts(at)
    assert at.selectbox(key="attribution_run").value == RUN
    at = page("sources")
    at.query_params["run"] = "run-gone"
    at.run()
    ok(at)
    assert "run\\-gone is not in the ledger" in texts(at)


# --- pure pieces -------------------------------------------------------------------------------


def test_shared_spans_list_their_documents_in_ranking_order() -> None:
    found = pd.DataFrame(
        {
            "doc_key": ["b", "a", "c"],
            "ranges": [{"target": [[0, 10]]}, {"target": [[5, 20]]}, {"target": []}],
        }
    )
    shared = spans.shared_spans(found, ["a", "b"])
    assert shared == [
        spans.SharedSpan(0, 5, ("b",)),
        spans.SharedSpan(5, 10, ("a", "b")),
        spans.SharedSpan(10, 20, ("a",)),
    ]
    table = spans.span_table("0123456789abcdefghij", shared)
    assert list(table["span"]) == [1, 2, 2, 3] and list(table["doc_key"]) == ["b", "a", "b", "a"]
    assert spans.shared_spans(found.iloc[2:], []) == []


class _Tags(HTMLParser):
    """Tags, attribute names, the text outside <sup> and the numbers inside it."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attrs: set[str] = set()
        self.text: list[str] = []
        self.numbers: list[str] = []
        self._in_sup = False

    def handle_starttag(self, tag, attrs) -> None:
        self.tags.append(tag)
        self.attrs |= {name for name, _ in attrs}
        self._in_sup = tag == "sup"

    def handle_endtag(self, tag) -> None:
        self._in_sup = self._in_sup and tag != "sup"

    def handle_data(self, data) -> None:
        (self.numbers if self._in_sup else self.text).append(data)


@pytest.mark.parametrize("text", [HOSTILE_TEXT, "</mark></sup></div><svg onload=alert(1)>", ""])
def test_numbered_spans_keep_every_user_character_as_text(text: str) -> None:
    n = len(text)
    markup = numbered_spans_html(text, [(0, n // 3), (n // 4, n // 2), (n // 2, n + 9), (5, 2)])
    parsed = _Tags()
    parsed.feed(markup)
    parsed.close()
    assert set(parsed.tags) <= {"div", "mark", "sup"} and parsed.attrs <= {"style"}
    assert "".join(parsed.text) == text  # whole, as text
    assert parsed.numbers == [str(i) for i in range(1, len(parsed.numbers) + 1)]
    assert len(parsed.numbers) == (3 if n else 0)  # the overlapping and the empty span dropped


def test_trained_sentences_say_never_so_far_and_when() -> None:
    done = SimpleNamespace(run_key="r", status="done", committed_step=144, total_steps=144)
    running = SimpleNamespace(run_key="r", status="running", committed_step=40, total_steps=144)
    assert document_view.trained_sentence(done, DocumentVisits((), 0), False) == (
        "Never trained on in run r: none of its 144 steps used it."
    )
    assert "so far: none of the 40 steps committed of 144" in document_view.trained_sentence(
        running, DocumentVisits((), 0), False
    )
    said = document_view.trained_sentence(done, DocumentVisits((0, 11), 3), True)
    assert said == "Trained on in run r: 2 of its 144 steps used it (3 rows), steps 1, 12."
    said = document_view.trained_sentence(running, DocumentVisits((0,), 1), True)
    assert (
        said == "Trained on in run r: 1 of the 40 steps committed so far of 144 used it, steps 1."
    )
    many = document_view.trained_sentence(done, DocumentVisits(tuple(range(0, 40, 2)), 20), True)
    assert "first at step 1, last at step 39" in many
    assert "no per-step visits" in document_view.trained_sentence(done, None, False)


def test_links_only_for_web_addresses_and_evidence_columns_first() -> None:
    assert document_view.safe_link("https://example.org/a") == "https://example.org/a"
    for bad in ("javascript:alert(1)", "data:text/html,x", "example.org", "", None):
        assert document_view.safe_link(bad) is None
    detail = DocumentDetail("d", "t", None, None, None, None, "javascript:alert(1)", None, "0")
    meta = document_view.metadata_frame(detail, "c")
    assert meta.iloc[0]["url"] == "" and meta.iloc[0]["url_text"] == "javascript:alert(1)"
    frame = pd.DataFrame(columns=["rank", "doc_key", "title", "source", "share", "label", "x"])
    assert document_view.top_order(frame) == [
        "rank",
        "title",
        "share",
        "label",
        "doc_key",
        "source",
        "x",
    ]
    assert document_view.doc_of_point([{"y": "a&amp;b"}], ["a&b", "c"]) == "a&b"
    assert document_view.doc_of_point([{"y": "zz"}], ["a"]) is None


def test_run_labels_say_how_far_a_run_got() -> None:
    def run(status: str, step: int, total: float | None = 9) -> SimpleNamespace:
        return SimpleNamespace(run_key="r", status=status, committed_step=step, total_steps=total)

    assert ui.run_label(run("done", 9)) == "r"
    assert ui.run_label(run("running", 4)) == "r (still training, step 4 of 9)"
    assert ui.run_label(run("interrupted", 3)) == "r (interrupted at step 3 of 9)"
    assert ui.run_label(run("failed", 3, float("nan"))) == "r (failed at step 3)"
    assert ui.run_label(run("created", 0)) == "r (started, no step committed yet)"


def _paged_script() -> None:
    import pandas as pd
    import streamlit as st

    from app import ui

    page = ui.paged(pd.DataFrame({"n": range(250)}), "t_page")
    st.text(f"{page['n'].iloc[0]}-{page['n'].iloc[-1]}")


def test_a_long_table_is_shown_a_page_at_a_time() -> None:
    at = AppTest.from_function(_paged_script, default_timeout=60).run()
    ok(at)
    assert at.text[0].value == "0-99" and "Rows 1 to 100 of 250." in texts(at)
    at.number_input(key="t_page").set_value(3).run()
    assert at.text[0].value == "200-249" and "Rows 201 to 250 of 250." in texts(at)


def test_the_detail_opens_the_document_view_and_it_opens_an_attribution(seeded: str) -> None:
    at = AppTest.from_file(ENTRY, default_timeout=60).run()
    at.switch_page("views/attribution.py").run()
    at.selectbox(key="attribution_target").set_value(KNOWN_TARGET).run()
    at.button(key="attribution_doc_open").click().run()
    ok(at)
    assert at.title[0].value == "Documents"
    assert at.session_state[document_view.OPEN_STATE] == (1, KNOWN_TOP)
    assert any("rank_specific" in d.value.columns for d in at.dataframe)
