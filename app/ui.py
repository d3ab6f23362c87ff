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
from provenance import labels as vocabulary
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
    "**raw** is the plain value. **Share of positive value** = a helpful document's value over "
    "the sum of all positive values of the target: 10% means a tenth of the total help; a "
    "document whose value is zero or negative has no share (shown as —, with its value). Shares "
    "compare documents: under AdamW the values' sum can exceed the measured drop of the loss "
    "(the efficiency check says by how much). By default the contributors are "
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
    or the caption `empty` when it has no rows. Returns whether the table was shown.

    Every table reads the same: the reader's column names with units (`COLUMNS`, from
    `provenance.labels`; `column_config` in `options` adds or overrides), shares as text by
    `vocabulary.share_text` (none for a value that is not positive), no `None` in a cell."""
    if frame.empty:
        st.caption(empty)
        return False
    config = {**column_config(frame), **options.pop("column_config", {})}
    formats = {c: _number_format(config[c]) for c in frame.columns if c in config}
    table = shown(frame, formats)
    for column in frame.columns:  # a number column with a gap is text now: say so, or "None"
        named = config.get(column)
        if isinstance(named, dict) and _is_number(named) and frame[column].isna().any():
            config[column] = st.column_config.TextColumn(named["label"], help=named["help"])
    st.dataframe(table, hide_index=True, width="stretch", column_config=config, **options)
    return True


def shown(frame: pd.DataFrame, formats: Mapping[str, str | None] = {}) -> pd.DataFrame:
    """A table as the pages show it and downloads hold it: shares as text, no missing cells
    (`formats`: printf formats of number columns that have a gap)."""
    return vocabulary.blank_missing(vocabulary.with_share_text(frame), formats)


def _is_number(config: dict) -> bool:
    return (config.get("type_config") or {}).get("type") == "number"


def _number_format(config: Any) -> str | None:
    """The number format a column config asks for ("%.4f", "percent"), if any."""
    if not isinstance(config, dict):
        return None
    return (config.get("type_config") or {}).get("format")


def column_config(frame: pd.DataFrame) -> dict[str, Any]:
    """The reader's name (and, for nats, the number format) of each column of `frame`."""
    return {c: COLUMNS[c] for c in frame.columns if c in COLUMNS}


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
    """A run picker (newest first) that remembers the choice across pages; a `run` query
    parameter (a link) chooses first. By default the newest finished run: a run still
    training, or one that failed, is chosen only by hand, and then carries `run_banner`."""
    if runs.empty:
        return None
    keys = list(runs["run_key"])
    _take_query_parameter("run", RUN_STATE)
    remembered = st.session_state.get(RUN_STATE)
    if remembered is not None and remembered not in keys:
        _explain_missing_run(remembered)
    finished = [k for k, status in zip(keys, runs["status"], strict=True) if status == "done"]
    default = remembered if remembered in keys else (finished or keys)[0]
    labels = {row.run_key: run_label(row) for row in runs.itertuples()}
    chosen = st.selectbox(
        label, keys, index=keys.index(default), key=f"{prefix}_run", format_func=labels.get
    )
    st.session_state[RUN_STATE] = chosen
    run_banner(runs[runs["run_key"] == chosen].iloc[0])
    return chosen


def run_label(run: Any) -> str:
    """A run as the picker lists it: its id, and its state unless it is done."""
    if run.status == "done":
        return run.run_key
    return f"{run.run_key} ({run_progress(run)})"


STOPPED = ("failed", "interrupted")  # statuses of a run that stopped before its last step


def run_progress(run: Any) -> str:
    """ "still training, step 40 of 144", "failed at step 3 of 9", "interrupted at step 3 of
    9", "started, no step committed yet" (`run` is a row of `data.runs`)."""
    of = f" of {int(run.total_steps)}" if is_known(run.total_steps) else ""
    step = int(run.committed_step)
    if run.status in STOPPED:
        return f"{run.status} at step {step}{of}"
    if step == 0:
        return "started, no step committed yet"
    return f"still training, step {step}{of}"


def run_banner(run: Any) -> None:
    """A warning above the values of a run that is not done: they are partial."""
    key = escape_markdown(run.run_key)
    of = f" of {int(run.total_steps)}" if is_known(run.total_steps) else ""
    step = int(run.committed_step)
    if run.status == "done":
        return
    if run.status in STOPPED:
        st.warning(
            f"Run {key} {run.status} at step {step}{of}: the values shown stop there and are "
            "incomplete. Resume it from the Runs page or with `provenance train --resume`.",
            icon=":material/error:",
        )
    elif step == 0:
        st.warning(f"Run {key} has not committed a step yet: no values to show.")
    else:
        st.warning(
            f"Run {key} is still training: values up to step {step}{of}. They change at each "
            "checkpoint; the ranking may too.",
            icon=":material/hourglass_top:",
        )


def is_known(value: object) -> bool:
    return value is not None and value == value  # None or NaN: unknown


def _take_query_parameter(name: str, state: str) -> None:
    """Move a link's query parameter into the remembered choice (once: the picker then rules)."""
    if name in st.query_params:
        st.session_state[state] = st.query_params[name]
        del st.query_params[name]


def _explain_missing_run(run_key: str) -> None:
    """Say why a remembered or linked run is not offered: gone from the ledger, or not one of
    this page's runs (e.g. no targets)."""
    if run_key in set(data.runs(data.ledger_url())["run_key"]):
        return  # a run this page does not list (no targets): nothing was lost
    st.info(
        f"Run {escape_markdown(run_key)} is not in the ledger (deleted, or a link from another "
        "ledger); showing another run instead."
    )
    del st.session_state[RUN_STATE]


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


def downloads(
    frame: pd.DataFrame,
    name: str,
    prefix: str,
    *,
    what: str | None = None,
    ids: tuple[str | None, ...] = (),
) -> None:
    """CSV and JSON downloads of a table as shown (`shown`, the reader's column names). The
    buttons say what they hold (`what`, e.g. "top 20 documents, fused ranking"), the files are
    named `name` and the run/target `ids` (`vocabulary.file_name`)."""
    holds = what or name.replace("-", " ")
    named = vocabulary.plain_names(shown(frame))
    left, right = st.columns(2)
    left.download_button(
        f"CSV: {holds}",
        csv_bytes(named),  # formulas neutralised: a title "=HYPERLINK(...)" stays text
        file_name=vocabulary.file_name(name, *ids, ext="csv"),
        mime="text/csv",
        key=f"{prefix}_{name}_csv",
    )
    right.download_button(
        f"JSON: {holds}",
        to_json(named).encode("utf-8"),
        file_name=vocabulary.file_name(name, *ids, ext="json"),
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


def _column(key: str) -> Any:
    if key in vocabulary.NATS_COLUMNS:
        return st.column_config.NumberColumn(vocabulary.label(key), format="%.4f")
    if key == "rank":
        return st.column_config.NumberColumn(vocabulary.label(key), width="small")
    return st.column_config.Column(vocabulary.label(key))


# One vocabulary for every table (provenance.labels.COLUMN_LABELS): "Run", "Document",
# "Specific value (nats)", never run_key or negative_sum.
COLUMNS = {key: _column(key) for key in vocabulary.COLUMN_LABELS}


PAGE_ROWS = 100  # rows of a long table shown at once


def paged(frame: pd.DataFrame, key: str, rows: int = PAGE_ROWS) -> pd.DataFrame:
    """`frame`, or one page of it with a page picker when it is longer than `rows`."""
    pages = -(-len(frame) // rows)
    if pages <= 1:
        return frame
    page = st.number_input(
        f"Page (of {pages:,}, {rows} rows each)", 1, pages, 1, key=key, width=220
    )
    start = (int(page) - 1) * rows
    st.caption(f"Rows {start + 1:,} to {min(start + rows, len(frame)):,} of {len(frame):,}.")
    return frame.iloc[start : start + rows]


def selected_row(key: str) -> int | None:
    """The row (position) selected in the table shown with `key` and `on_select`, or None."""
    state = st.session_state.get(key)
    rows = state.selection.rows if state is not None else []
    return rows[0] if rows else None
