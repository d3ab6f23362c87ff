"""The Overview opens on the demo's story when the demo left one: each output with its leading
source, and one click to its attribution."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from provenance.demo_story import StoryItem, read_story, write_story
from tests.app.conftest import APP_DIR, ENTRY, KNOWN_TARGET, KNOWN_TOP, RUN

SENTENCE = f"{KNOWN_TARGET} reproduces 12 words of 'Fixture work', {KNOWN_TOP}: rank 1, 61.0%"


def _story(data_dir: Path) -> None:
    item = StoryItem(
        run_key=RUN,
        target_key=KNOWN_TARGET,
        kind="reproduction",
        prompt="Once",
        text="upon a time",
        doc_key=KNOWN_TOP,
        title="Fixture work",
        source="Fixture press",
        share=0.61,
        span_words=12,
        sentence=SENTENCE,
    )
    write_story(data_dir, [item])
    assert read_story(data_dir) == [item]


def test_the_overview_starts_with_the_demo_story(seeded: str, data_dir: Path) -> None:
    _story(data_dir)
    at = AppTest.from_file(ENTRY, default_timeout=60).run()  # navigation: the button switches
    assert not at.exception, [e.value for e in at.exception]
    assert SENTENCE in [t.value for t in at.text]
    table = next(d.value for d in at.dataframe if "Leading source" in d.value.columns)
    assert table.iloc[0]["Document"] == KNOWN_TOP
    at.button(key=f"overview_open_{KNOWN_TARGET}").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.session_state["selected_run"] == RUN
    assert at.session_state["selected_target"] == KNOWN_TARGET
    assert at.title[0].value == "Attribution"


def test_without_a_demo_the_overview_has_no_story(seeded: str) -> None:
    at = AppTest.from_file(str(APP_DIR / "views" / "overview.py"), default_timeout=60).run()
    assert not at.exception
    assert not [d for d in at.dataframe if "Leading source" in d.value.columns]
