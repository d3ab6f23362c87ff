"""Every page under AppTest on the seeded fixture ledger (tests/app/conftest.py), plus the
empty-ledger path and an out-of-date schema."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import text
from streamlit.testing.v1 import AppTest

from app import evidence_view
from db.jobs import job_status, list_jobs
from db.session import make_engine, make_sessionmaker, session_scope
from tests.app.conftest import (
    APP_DIR,
    DOCUMENTS,
    ENTRY,
    KNOWN_TARGET,
    KNOWN_TEXT,
    KNOWN_TOP,
    RUN,
)

PAGES = ["overview", "targets", "attribution", "sources", "health", "runs", "downloads"]
TIMEOUT = 60  # the first run imports plotly and pandas


def page(name: str) -> AppTest:
    return AppTest.from_file(str(APP_DIR / "views" / f"{name}.py"), default_timeout=TIMEOUT)


def jobs_of(url: str):
    engine = make_engine(url)
    with session_scope(make_sessionmaker(engine)) as session:
        frame = list_jobs(session)
    engine.dispose()
    return frame


def frame(at: AppTest, *columns: str):
    """The first table shown that has all these columns (AppTest does not expose table keys)."""
    for element in at.dataframe:
        if set(columns) <= set(element.value.columns):
            return element.value
    raise AssertionError(f"no table with columns {columns}")


def document_picker(at: AppTest):
    return next(s for s in at.selectbox if s.label == "Document")


def texts(at: AppTest) -> str:
    """Everything a page wrote, as one string (markdown, captions, code, text, alerts)."""
    parts = [e.value for kind in ("markdown", "caption", "code", "text") for e in at.get(kind)]
    parts += [e.value for kind in ("error", "info", "success", "warning") for e in at.get(kind)]
    return "\n".join(str(p) for p in parts)


@pytest.mark.parametrize("name", PAGES)
def test_every_page_renders_on_the_fixture_ledger(seeded: str, name: str) -> None:
    at = page(name).run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


@pytest.mark.parametrize("name", PAGES)
def test_every_page_renders_on_an_empty_ledger(empty: str, name: str) -> None:
    at = page(name).run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def test_entry_navigates_to_overview_with_first_use_path(empty: str) -> None:
    at = AppTest.from_file(ENTRY, default_timeout=TIMEOUT).run()
    assert not at.exception
    assert at.title[0].value == "Overview"
    assert "make demo" in texts(at)
    at.switch_page("views/attribution.py").run()
    assert not at.exception
    assert at.title[0].value == "Attribution"


def test_attribution_shows_the_expected_top_document(seeded: str) -> None:
    at = page("attribution").run()
    assert at.selectbox(key="attribution_run").value == RUN
    at.selectbox(key="attribution_target").set_value(KNOWN_TARGET).run()
    assert not at.exception
    assert KNOWN_TEXT in texts(at)
    top = frame(at, "rank", "share")
    assert top.iloc[0]["doc_key"] == KNOWN_TOP
    assert list(top.columns) == [
        "rank",
        "doc_key",
        "title",
        "source",
        "specific_value",
        "raw_value",
        "share",
        "rank_by_value",
        "rank_by_words",
        *evidence_view.SHOWN,  # empty until computed (tests/app/test_evidence_ui.py)
        "url",  # a link where the corpus gives a web address
    ]
    assert top.iloc[0]["specific_value"] == pytest.approx(0.5)
    assert top.iloc[0]["raw_value"] == pytest.approx(0.51)
    assert top.iloc[0]["rank_by_value"] == 1
    subheaders = [h.value for h in at.subheader]
    assert "Top contributors, ranked by training contribution fused with word overlap" in (
        subheaders
    )
    # The efficiency metric and the document detail of the top document.
    labels = [m.label for m in at.metric]
    assert "Sum of all documents' values" in labels
    titles = [json.loads(c.proto.spec)["layout"]["title"]["text"] for c in at.get("plotly_chart")]
    assert "Efficiency check over training" in titles  # the per-step series beside the metric
    captions = [c.value for c in at.caption]
    assert any(c.startswith("Specific values are measured against") for c in captions)
    verdicts = [e.value for e in [*at.info, *at.success]]
    assert any(v.startswith("The documents' values (0.36 nats) differ") for v in verdicts)
    assert "Where the difference comes from" in [e.label for e in at.expander]
    assert document_picker(at).value == KNOWN_TOP
    # Raw ranking: the raw value comes first; the ranking is the ledger's raw order.
    at.radio(key="attribution_by").set_value("raw").run()
    top_raw = frame(at, "rank", "share")
    assert list(top_raw.columns[4:6]) == ["raw_value", "specific_value"]
    assert top_raw.iloc[0]["doc_key"] == KNOWN_TOP


def test_attribution_other_target_and_harmful(seeded: str) -> None:
    at = page("attribution").run()
    at.selectbox(key="attribution_target").set_value("t-other").run()
    assert frame(at, "rank", "share").iloc[0]["doc_key"] == "doc-a"
    assert "Abigail wrote:" in texts(at)  # the prompt, shown escaped
    assert "doc-noise" in "\n".join(str(d.value) for d in at.dataframe)


@pytest.mark.parametrize("name", ["attribution", "sources", "health"])
def test_pages_on_postgresql(seeded_pg: str, name: str) -> None:
    at = page(name).run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    if name == "attribution":
        assert frame(at, "rank", "share").iloc[0]["doc_key"] == KNOWN_TOP


def test_html_in_corpus_titles_stays_text(seeded: str) -> None:
    at = page("attribution").run()
    document_picker(at).set_value("doc-d").run()
    assert not at.exception
    shown = "\n".join(str(d.value.to_dict()) for d in at.dataframe)
    assert "<script>alert('x')</script>" in shown  # as data in a table, never as markup
    assert all("<script>" not in m.value for m in at.markdown)


def test_sources_takedown_estimate(seeded: str) -> None:
    at = page("sources").run()
    at.selectbox(key="sources_target").set_value(KNOWN_TARGET).run()
    table = frame(at, "documents", "specific")
    assert table.iloc[0]["source"] == "Acme Press"
    # Acme Press: doc-copy (0.51 raw) + doc-para (0.21 raw), beside the measured drop of
    # 3.0 - 2.7 = 0.3 nats, which it exceeds: the caveat says so.
    assert (
        "Without source Acme Press, the target's loss reduction would be about 0.72 nats lower, "
        "first order, beside a measured drop of 0.3 nats; more than the whole measured drop"
    ) in texts(at)
    at.selectbox(key="sources_target").set_value(None).run()
    assert "targets" in frame(at, "documents", "specific").columns


def test_health_lists_the_negative_document(seeded: str) -> None:
    at = page("health").run()
    table = frame(at, "negative_targets")
    assert list(table["doc_key"]) == ["doc-noise"]
    assert table.iloc[0]["negative_targets"] == 2
    assert table.iloc[0]["negative_sum"] == pytest.approx(-0.4)


def test_typed_target_is_saved_and_listed(seeded: str, data_dir: Path) -> None:
    at = page("targets").run()
    at.text_area(key="targets_text").set_value("<b>Four score</b> and seven years ago")
    at.text_input(key="targets_id").set_value("gettysburg")
    at.button[0].click().run()  # the typed form's submit button is the page's first button
    assert not at.exception
    assert at.success, texts(at)
    saved = list((data_dir / "uploads").glob("*.jsonl"))
    assert len(saved) == 1
    assert json.loads(saved[0].read_text())["text"] == "<b>Four score</b> and seven years ago"
    pending = frame(at, "status", "file")
    assert list(pending["id"]) == ["gettysburg"]
    assert pending.iloc[0]["status"] == "not attributed"


def test_bad_typed_target_is_refused(seeded: str, data_dir: Path) -> None:
    at = page("targets").run()
    at.text_area(key="targets_text").set_value("   ")
    at.button[0].click().run()
    assert "empty" in at.error[0].value
    assert not (data_dir / "uploads").exists()


def test_queue_attribution_enqueues_a_job(seeded: str, data_dir: Path) -> None:
    # The fixture run must be done to be replayed.
    engine = make_engine(seeded)
    with engine.begin() as connection:
        connection.execute(text("UPDATE runs SET status = 'done'"))
    engine.dispose()
    at = page("targets").run()
    at.text_area(key="targets_text").set_value("Ask not what your country can do for you")
    at.button[0].click().run()
    assert "Estimated cost" in texts(at)
    at.button(key="targets_queue").click().run()
    assert not at.exception
    jobs = jobs_of(seeded)
    job = jobs.iloc[-1]
    assert job["kind"] == "attribute" and job["status"] == "queued" and job["run_key"] == RUN
    at.run()
    status = frame(at, "status", "file").iloc[0]["status"]
    assert status == f"queued (job {job['id']})"


def test_launch_training_enqueues_a_job(seeded: str, data_dir: Path) -> None:
    corpus = data_dir / "corpora" / "corpus.jsonl"
    corpus.parent.mkdir()
    corpus.write_text('{"id": "d1", "text": "hello"}\n')
    at = page("runs").run()
    at.selectbox(key="runs_corpus_choice").set_value("corpus.jsonl")
    at.number_input(key="runs_steps").set_value(7)
    at.selectbox(key="runs_order").set_value(2)
    at.number_input(key="runs_seed").set_value(3)
    at.selectbox(key="runs_accounting").set_value("sgd_proxy")
    at.button[0].click().run()
    assert not at.exception
    assert at.success, texts(at)
    job = jobs_of(seeded).iloc[-1]
    assert job["kind"] == "train" and job["status"] == "queued"
    engine = make_engine(seeded)
    with engine.connect() as connection:
        payload = connection.execute(text("SELECT payload FROM jobs ORDER BY id DESC")).scalar()
    engine.dispose()
    payload = json.loads(payload) if isinstance(payload, str) else payload
    assert payload["corpus_path"] == "corpus.jsonl"  # a name in the corpus folder, never a path
    assert payload["config"]["steps"] == 7
    assert payload["config"]["order"] == 2
    assert payload["config"]["seed"] == 3
    assert payload["config"]["accounting"] == "sgd_proxy"


def test_launch_training_offers_no_path_input(seeded: str) -> None:
    """The Runs page has no text box for a path: corpora come from the corpus folder."""
    before = len(jobs_of(seeded))
    at = page("runs").run()
    assert not [w for w in at.text_input if w.key and w.key.startswith("runs_")]
    at.button[0].click().run()  # no corpus in the folder: refused, nothing queued
    assert "choose a corpus" in at.error[0].value
    assert len(jobs_of(seeded)) == before


def test_failed_job_message_is_shown(seeded: str) -> None:
    engine = make_engine(seeded)
    with engine.begin() as connection:
        connection.execute(
            text("UPDATE jobs SET status = 'failed', message = 'corpus <i>gone</i>' WHERE id = 1")
        )
    engine.dispose()
    at = page("runs").run()
    assert "Job 1 failed" in at.error[0].value
    assert "train: corpus <i>gone</i>" in [c.value for c in at.code]


def test_out_of_date_schema_is_refused(seeded: str) -> None:
    engine = make_engine(seeded)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0000old'"))
    engine.dispose()
    at = page("attribution").run()
    assert "provenance db upgrade" in at.error[0].value
    assert not at.dataframe


def test_generate_a_target_from_a_runs_model(seeded: str, data_dir: Path) -> None:
    from attribution_engine.models import TinyGPT2Config, tiny_gpt2
    from attribution_engine.tokenizer import train_bpe_tokenizer

    tokenizer = train_bpe_tokenizer([text for *_, text in DOCUMENTS] * 20, vocab_size=300)
    config = TinyGPT2Config(n_layer=1, n_embd=32, n_head=2, n_positions=32)
    model = tiny_gpt2(len(tokenizer), config, seed=0)
    model_dir = data_dir / "runs" / RUN / "model"
    model.save_pretrained(model_dir)
    tokenizer.save_pretrained(model_dir)

    at = page("targets").run()
    at.selectbox(key="targets_gen_run").set_value(RUN)
    at.text_input(key="targets_gen_prompt").set_value("We hold")
    at.slider(key="targets_gen_tokens").set_value(8)
    next(b for b in at.button if b.label == "Generate").click().run()
    assert not at.exception, [e.value for e in at.exception]
    at.button(key="targets_use_generated").click().run()
    assert not at.exception
    (saved,) = (data_dir / "uploads").glob("*.jsonl")
    record = json.loads(saved.read_text())
    assert record["prompt"] == "We hold" and record["text"].strip()
    assert saved.name.startswith("generated-")  # a model wrote it: origin "generated"
    waiting = next(d.value for d in at.dataframe if "origin" in d.value.columns)
    assert list(waiting["origin"]) == ["generated"]
    at.button(key="targets_queue").click().run()
    assert not at.exception, [e.value for e in at.exception]
    with session_scope(make_sessionmaker(make_engine(seeded))) as session:
        newest = int(list_jobs(session)["id"].max())
        queued = job_status(session, newest)
    assert queued.kind == "attribute" and queued.payload["generated"] == [record["id"]]
