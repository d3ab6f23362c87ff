"""Widgets the pages share: the page preamble, run/target pickers, tables, escaped text, download
buttons, value wording.

User-supplied text (corpus documents, titles, uploads, generations) is only ever shown through
elements that escape it: `st.code`, `st.text`, `st.dataframe`, widget option labels. Markdown
is reserved for our own fixed wording.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

import pandas as pd
import streamlit as st

from app import data
from provenance.csv_safety import csv_bytes
from provenance.serve import host_allowed

# Remembered across pages, so the run and target chosen on one page stay chosen on the next.
RUN_STATE = "selected_run"
TARGET_STATE = "selected_target"

VALUE_WORDS = (
    "A **value** is how much a training document lowered the target's loss, in **nats** "
    "(natural-log units of the model's per-token loss), summed over every step that used it. "
    "**Positive** = the document helped the model produce this text; **negative** = it pushed "
    "the model away from it. **Specific** value subtracts what the document also did for "
    "typical text (a reference), so it ranks provenance rather than generic usefulness; "
    "**raw** is the plain value. **Share** = the document's value over the sum of all positive "
    "values of the target: 10% means a tenth of the total help. By default the contributors are "
    "**ordered** by training contribution fused with word overlap (a document both ranks high by "
    "specific value and shares the target's words comes first); the values never change with "
    "the order."
)


def require_allowed_host() -> None:
    """Stop the script unless the browser's Host header is on the server's allow-list
    (provenance/serve.py): a DNS-rebinding page, served under its own name from 127.0.0.1,
    gets this error instead of the forms. Without a browser request (AppTest, a bare script
    run) there is no Host to check."""
    headers = _request_headers()
    if not headers:
        return
    allowed = data.allowed_hosts()
    host = headers.get("Host")
    if not host_allowed(host, allowed):
        error(
            f"This server answers only to {', '.join(allowed)}, not to the host name "
            f"{host!r}. Open it at one of those, or start it with `provenance ui "
            "--allowed-host NAME` when a proxy forwards that name."
        )
        st.stop()


def _request_headers() -> Mapping[str, str]:
    return st.context.headers


def page(title: str) -> str:
    """Title the page and open the ledger (a page stops there, with a fix-it message, when the
    ledger is unusable); returns the ledger's URL, the first argument of every cached read."""
    st.title(title)
    data.ledger()
    return data.ledger_url()


def runs_with_targets(url: str, empty: str) -> pd.DataFrame:
    """The runs that have user targets; without any, the page shows `empty` and stops."""
    runs = data.runs(url)
    runs = runs[runs["targets"] > 0]
    if runs.empty:
        st.info(empty)
        st.stop()
    return runs


def table(frame: pd.DataFrame, empty: str, **options: Any) -> bool:
    """`frame` as the pages show tables (no index, full width; `options` go to st.dataframe),
    or the caption `empty` when it has no rows. Returns whether the table was shown."""
    if frame.empty:
        st.caption(empty)
        return False
    st.dataframe(frame, hide_index=True, width="stretch", **options)
    return True


# Every ASCII punctuation character can be backslash-escaped in CommonMark; escaping them all
# leaves no link, image, emphasis, heading, HTML tag or autolink ("http://...", "www.") to render.
_MARKDOWN_SPECIAL = re.compile(r"([!-/:-@\[-`{-~])")
MAX_MESSAGE_CHARS = 500  # an error is one line; the rest of a huge message helps nobody


def escape_markdown(text: str) -> str:
    """`text` as literal characters in Streamlit Markdown, on one line, at most
    MAX_MESSAGE_CHARS long."""
    line = " ".join(str(text).split())
    if len(line) > MAX_MESSAGE_CHARS:
        line = line[: MAX_MESSAGE_CHARS - 25] + f" ... ({len(line)} characters)"
    return _MARKDOWN_SPECIAL.sub(r"\\\1", line)


def error(err: Exception | str) -> None:
    """An error whose message may carry user text (a file name, a field, an id): escaped, so
    nothing in it renders as a link, an image or markup. The only way pages show such errors
    (tests/reliability/test_static_guards.py)."""
    st.error(escape_markdown(str(err)))


def show_text(text: str | None, *, empty: str = "(none)") -> None:
    """User text, escaped and wrapped."""
    st.code(text if text else empty, language=None, wrap_lines=True)


def select_run(prefix: str, runs: pd.DataFrame, label: str = "Run") -> str | None:
    """A run picker (newest first); remembers the choice across pages."""
    if runs.empty:
        return None
    keys = list(runs["run_key"])
    remembered = st.session_state.get(RUN_STATE)
    index = keys.index(remembered) if remembered in keys else 0
    chosen = st.selectbox(label, keys, index=index, key=f"{prefix}_run")
    st.session_state[RUN_STATE] = chosen
    return chosen


def select_target(
    prefix: str, targets: pd.DataFrame, *, allow_all: bool = False, label: str = "Target"
) -> str | None:
    """A target picker over user targets; with allow_all, None stands for "all targets"."""
    keys: list[str | None] = list(targets["target_key"])
    if allow_all:
        keys = [None, *keys]
    if not keys:
        return None
    remembered = st.session_state.get(TARGET_STATE)
    index = keys.index(remembered) if remembered in keys else 0
    chosen = st.selectbox(
        label,
        keys,
        index=index,
        key=f"{prefix}_target",
        format_func=lambda k: "All targets" if k is None else k,
    )
    if chosen is not None:
        st.session_state[TARGET_STATE] = chosen
    return chosen


def downloads(frame: pd.DataFrame, name: str, prefix: str) -> None:
    """CSV and JSON downloads of a table exactly as shown."""
    left, right = st.columns(2)
    left.download_button(
        "Download CSV",
        csv_bytes(frame),  # formulas neutralised: a title "=HYPERLINK(...)" stays text
        file_name=f"{name}.csv",
        mime="text/csv",
        key=f"{prefix}_{name}_csv",
    )
    right.download_button(
        "Download JSON",
        to_json(frame).encode("utf-8"),
        file_name=f"{name}.json",
        mime="application/json",
        key=f"{prefix}_{name}_json",
    )


def to_json(frame: pd.DataFrame) -> str:
    """Records as JSON, floats at full precision (repr), dates as ISO strings."""
    return json.dumps(
        json.loads(frame.to_json(orient="records", date_format="iso", double_precision=15)),
        indent=1,
        ensure_ascii=False,
    )


VALUE_COLUMNS = {
    "rank": st.column_config.NumberColumn("rank", width="small"),
    "doc_key": st.column_config.TextColumn("document id"),
    "title": st.column_config.TextColumn("title"),
    "source": st.column_config.TextColumn("source"),
    "value": st.column_config.NumberColumn("value (nats)", format="%.5f"),
    "raw_value": st.column_config.NumberColumn("raw value (nats)", format="%.5f"),
    "specific_value": st.column_config.NumberColumn("specific value (nats)", format="%.5f"),
    "share": st.column_config.NumberColumn("share of positive value", format="percent"),
    "rank_by_value": st.column_config.NumberColumn("rank by value", width="small"),
    "rank_by_words": st.column_config.NumberColumn("rank by words (BM25)", width="small"),
}
