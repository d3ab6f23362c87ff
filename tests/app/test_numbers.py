"""Issue 19 item 1 on the pages themselves: no number labelled as a share exceeds 100% or is
negative, no takedown estimate exceeds the target's measured drop without its caveat, tables
read plainly (no `None`, no `run_key`), downloads say what they hold, the corpus-health list
states and applies its threshold, and the target's heading says where its text came from."""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from provenance import labels, rollups
from tests.app.conftest import APP_DIR, KNOWN_TARGET
from tests.app.test_pages import page, texts

SHARE = re.compile(r"^(<0\.1|\d{1,3}\.\d)%$")


def _share_columns(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns if "share" in str(c).lower()]


def assert_shares_are_shares(at: AppTest) -> int:
    """Every cell of a column named as a share is a percentage in (0%, 100%] or NO_SHARE;
    returns how many shares were checked."""
    checked = 0
    for element in at.dataframe:
        frame = element.value
        for column in _share_columns(frame):
            for cell in frame[column]:
                if cell == labels.NO_SHARE:
                    continue
                assert isinstance(cell, str) and SHARE.match(cell), (column, cell)
                assert 0 < float(cell.strip("<%")) <= 100, (column, cell)
                checked += 1
    return checked


def assert_reads_plainly(at: AppTest) -> None:
    """No table shows None/NaN or a ledger column key a reader does not speak."""
    for element in at.dataframe:
        frame = element.value
        if "progress" in frame.columns:
            continue  # the live jobs table (app/jobs_view.py) has its own wording
        assert not frame.isna().any().any(), frame
        assert "None" not in set(frame.astype(str).to_numpy().ravel()), frame
        # A number column given text ("" for a gap) is drawn as "None" by the browser.
        config = json.loads(element.proto.columns or "{}")
        for column, named in config.items():
            if (named.get("type_config") or {}).get("type") == "number" and column in frame:
                assert pd.api.types.is_numeric_dtype(frame[column]), (column, frame[column])


@pytest.mark.parametrize("target", [KNOWN_TARGET, "t-other"])
def test_attribution_shares_and_plain_tables(seeded: str, target: str) -> None:
    at = page("attribution").run()
    at.selectbox(key="attribution_target").set_value(target).run()
    assert not at.exception, [e.value for e in at.exception]
    assert assert_shares_are_shares(at) > 0
    assert_reads_plainly(at)
    harmful = next(e.value for e in at.dataframe if "doc-noise" in set(e.value.get("doc_key", [])))
    assert harmful.iloc[-1]["specific_value"] < 0
    # The top table names its columns for the reader (the frame keeps the ledger's keys).
    config = next(e.proto.columns for e in at.dataframe if "specific_value" in e.value.columns)
    assert "Specific value (nats)" in config and "Share of positive value" in config
    assert "Target text** (from the training run's targets file)" in texts(at)


def test_the_prompt_is_not_under_the_target_heading(seeded: str) -> None:
    at = page("attribution").run()
    at.selectbox(key="attribution_target").set_value("t-other").run()
    headings = [m.value for m in at.markdown]
    prompt = next(i for i, h in enumerate(headings) if h.startswith("**Prompt**"))
    target = next(i for i, h in enumerate(headings) if h.startswith("**Target text**"))
    assert prompt < target  # the prompt has its own heading, before the target's


def test_the_efficiency_verdict_sits_beside_its_metrics(seeded: str) -> None:
    at = page("attribution").run()
    at.selectbox(key="attribution_target").set_value(KNOWN_TARGET).run()
    assert [m.label for m in at.metric][:2] == [
        "Sum of all documents' values",
        "Measured drop of the target's loss",
    ]
    assert any(e.value.startswith("The documents' values") for e in [*at.info, *at.success])


@pytest.mark.parametrize("field", ["source", "author", "license"])
@pytest.mark.parametrize("target", [KNOWN_TARGET, "t-other", None])
def test_sources_shares_and_takedowns(seeded: str, field: str, target: str | None) -> None:
    at = page("sources").run()
    at.selectbox(key="sources_target").set_value(target).run()
    at.radio(key="sources_field").set_value(field).run()
    assert not at.exception, [e.value for e in at.exception]
    assert assert_shares_are_shares(at) > 0
    assert_reads_plainly(at)
    if target is None:
        assert "Takedown estimate" not in texts(at)
        return
    drop = float(next(m.value for m in at.metric if "Measured drop" in m.label).split()[0])
    estimates = [t.value for t in at.text if t.value.startswith("Without ")]
    assert estimates
    for sentence in estimates:
        first_order = float(re.search(r"about ([0-9.e+-]+) nats", sentence).group(1))
        if first_order > drop:
            assert rollups.FIRST_ORDER_CAVEAT in sentence, sentence
        assert f"beside a measured drop of {drop:.4g} nats" in sentence


def test_overview_and_health_and_downloads_read_plainly(seeded: str) -> None:
    for name in ("overview", "health", "downloads"):
        at = page(name).run()
        assert not at.exception, [e.value for e in at.exception]
        assert_reads_plainly(at)
        assert_shares_are_shares(at)


def test_downloads_say_what_they_hold(seeded: str) -> None:
    at = page("downloads").run()
    at.selectbox(key="downloads_target").set_value(KNOWN_TARGET).run()
    names = [b.proto.label for b in at.get("download_button")]
    assert len(names) == len(set(names)), names  # no two buttons alike
    assert not [n for n in names if n in ("Download CSV", "Download JSON")]
    assert "CSV: top 1000 documents, training contribution (specific value)" in names
    assert "JSON: contribution by licence" in names


def test_health_states_and_applies_its_threshold(seeded: str) -> None:
    at = page("health").run()
    # Two targets; doc-noise is negative for both (-0.3 and -0.1 specific).
    assert "Threshold: a negative specific value for at least 2 of the run's 2 targets." in (
        texts(at)
    )
    assert "What this measures" in texts(at)
    listed = next(e.value for e in at.dataframe if "negative_targets" in e.value.columns)
    assert list(listed["doc_key"]) == ["doc-noise"]
    at.number_input(key="health_min_harm").set_value(0.5).run()
    assert "summing to at most -0.5 nats" in texts(at)
    assert "No document passes this threshold." in texts(at)


def test_overview_says_what_to_do_next(seeded: str) -> None:
    at = AppTest.from_file(str(APP_DIR / "views" / "overview.py"), default_timeout=60).run()
    assert not at.exception
    words = [e.value for e in at.info]
    assert any(w.startswith("Ready: 2 of 2 target(s) attributed") for w in words), words
    assert at.button(key="overview_next").label == "Open Attribution"
