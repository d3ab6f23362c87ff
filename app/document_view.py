"""One document, for the person who asks "what did these runs do with my document?": its
metadata with a clickable URL, whether and when each run over its corpus trained on it, its
rank and value for every target of each run, and its evidence where computed.

Shown on the Documents page; the Attribution page links here. The sentences and the tables'
frames are pure functions (tested without Streamlit); `show_document` lays them out.
"""

from __future__ import annotations

import html
from typing import Any
from urllib.parse import urlsplit

import pandas as pd
import streamlit as st

from app import data, ui
from db.catalog import DocumentDetail
from db.values import DocumentVisits

OPEN_STATE = "documents_open"  # (corpus id, doc key) of the document the Documents page shows
# Asked of the Attribution page: the document its detail section opens (set before switching).
ATTRIBUTION_DOC_STATE = "attribution_open_doc"
LIST_STEPS = 12  # steps listed one by one; beyond that, the first and the last

RUN_TABLE_COLUMNS = {
    "target_key": st.column_config.TextColumn("target"),
    "origin": st.column_config.TextColumn(
        "origin",
        help="uploaded: the user's text; generated: a model's output; file: given "
        "when the run was trained",
    ),
    "rank_specific": st.column_config.NumberColumn(
        "rank", help="1 = the largest specific value among the documents the run trained on"
    ),
    "specific": st.column_config.NumberColumn("specific value (nats)", format="%.5f"),
    "raw": st.column_config.NumberColumn("raw value (nats)", format="%.5f"),
    "label": st.column_config.TextColumn(
        "evidence", help="verbatim / paraphrase / diffuse; empty: not computed yet"
    ),
    # Text, so that "not computed" is an empty cell rather than a number column's "None".
    "span_words": st.column_config.TextColumn("longest verbatim run (words)"),
}


def safe_link(url: str | None) -> str | None:
    """The URL when it is an http(s) address a browser may open, else None (a corpus can say
    `javascript:...`; such a value is shown as text, never as a link)."""
    if not url:
        return None
    parts = urlsplit(url.strip())
    return url.strip() if parts.scheme in ("http", "https") and parts.netloc else None


def metadata_frame(detail: DocumentDetail, corpus: str) -> pd.DataFrame:
    """One row: the document's id and metadata; empty cells as "" (never None)."""
    link = safe_link(detail.url)
    row = {
        "doc_key": detail.doc_key,
        "title": detail.title or "",
        "url": link or "",
        "source": detail.source or "",
        "author": detail.author or "",
        "license": detail.license or "",
        "date": detail.date or "",
        "corpus": corpus,
        "sha256": detail.sha256,
    }
    if detail.url and not link:
        row["url_text"] = detail.url  # not a web address: shown, not linked
    return pd.DataFrame([row])


METADATA_COLUMNS = {
    "doc_key": st.column_config.TextColumn("document id"),
    "url": st.column_config.LinkColumn("URL"),
    "url_text": st.column_config.TextColumn("URL (not a web address, not linked)"),
    "sha256": st.column_config.TextColumn("SHA-256 of the text"),
}


def trained_sentence(run: Any, visits: DocumentVisits | None, has_values: bool) -> str:
    """Whether and when run `run` (a row of `data.runs`) trained on the document, in plain
    words. Steps are counted from 1, as "step N of M" counts them."""
    key = run.run_key
    committed = int(run.committed_step)
    total = int(run.total_steps) if ui.is_known(run.total_steps) else None
    of = f" of {total}" if total is not None else ""
    if visits is None:
        if has_values:
            return f"Trained on in run {key} (the ledger keeps no per-step record of when)."
        return (
            f"Run {key} recorded no per-step visits (a run without targets keeps none), so the "
            "ledger cannot say whether it trained on this document."
        )
    if not visits.steps:
        if run.status == "done":
            return f"Never trained on in run {key}: none of its {committed} steps used it."
        return (
            f"Not trained on in run {key} so far: none of the {committed} steps committed"
            f"{of} used it."
        )
    steps = [s + 1 for s in visits.steps]
    listed = (
        "steps " + ", ".join(map(str, steps))
        if len(steps) <= LIST_STEPS
        else f"first at step {steps[0]}, last at step {steps[-1]}"
    )
    rows = f" ({visits.rows} rows)" if visits.rows != len(steps) else ""
    within = (
        f"of its {committed} steps"
        if run.status == "done"
        else f"of the {committed} steps committed so far{of}"
    )
    return f"Trained on in run {key}: {len(steps)} {within} used it{rows}, {listed}."


def coverage_words(run: Any, trained: int | None, documents: int | None) -> str:
    """How much of its corpus the run trained on: the context of "never trained on"."""
    if trained is None or documents is None:
        return ""
    so_far = "" if run.status == "done" else " so far"
    return (
        f"Run {run.run_key} trained on {trained:,} of the {documents:,} documents of its "
        f"corpus{so_far}."
    )


def run_table(contributions: pd.DataFrame, evidence: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """The document's row for each user target of a run (`data.contributions`) with its
    evidence (`evidence`: target -> `data.evidence` of that target, the document's rows)."""
    labels, spans = [], []
    for target_key in contributions["target_key"]:
        found = evidence.get(target_key)
        row = None if found is None or found.empty else found.iloc[0]
        labels.append("" if row is None else row["label"])
        spans.append(
            "" if row is None or pd.isna(row["span_words"]) else str(int(row["span_words"]))
        )
    return contributions.assign(label=labels, span_words=spans)[list(RUN_TABLE_COLUMNS)]


def doc_of_point(points: list[dict[str, Any]], doc_keys: list[str]) -> str | None:
    """The document of the first clicked bar of `figures.top_documents_figure` (its label is
    the HTML-escaped id), or None."""
    by_label = {html.escape(str(k)): k for k in doc_keys}
    for point in points:
        found = by_label.get(str(point.get("y")))
        if found is not None:
            return found
    return None


def fresh_pick(source: str, value: str | None) -> str | None:
    """`value` when `source` (a table or chart of the page) picked it at this rerun, None when
    it was already picked before: a selection stays selected across reruns, and the detail
    view follows only new clicks (the dropdown keeps working)."""
    seen = f"attribution_seen:{source}"
    fresh = value is not None and st.session_state.get(seen) != value
    st.session_state[seen] = value
    return value if fresh else None


def open_on_attribution(run_key: str, target_key: str, doc_key: str) -> None:
    """Switch to the Attribution page on this run and target, its detail on this document."""
    st.session_state[ui.RUN_STATE] = run_key
    st.session_state[ui.TARGET_STATE] = target_key
    st.session_state[ATTRIBUTION_DOC_STATE] = doc_key
    st.switch_page("views/attribution.py")


def show_document(url: str, corpus_id: int, doc_key: str) -> None:
    """The document view; a clear message (no traceback) when the ledger has no such document."""
    detail = data.find_document(url, corpus_id, doc_key)
    if detail is None:
        st.warning(
            f"The ledger has no document {ui.escape_markdown(doc_key)} in corpus {corpus_id} "
            "(a mistyped id, or a corpus that was deleted). Search for it above."
        )
        return
    st.subheader("Document")
    runs = data.runs(url)
    keys = data.corpus_runs(url, corpus_id)
    over = runs[runs["run_key"].isin(keys)]
    corpus = str(over.iloc[0]["corpus"]) if not over.empty else f"corpus {corpus_id}"
    meta = metadata_frame(detail, corpus)
    st.dataframe(meta, hide_index=True, width="stretch", column_config=METADATA_COLUMNS)
    with st.expander("Text", expanded=False):
        ui.show_text(detail.text)
    if over.empty:
        st.info("No run in the ledger trained on this document's corpus.")
        return
    for run in over.itertuples():
        _show_run(url, run, doc_key)


def _show_run(url: str, run: Any, doc_key: str) -> None:
    st.markdown(f"**Run {ui.escape_markdown(run.run_key)}** ({ui.escape_markdown(run.kind)})")
    ui.run_banner(run)
    contributions = data.contributions(url, run.run_key, doc_key)
    visits = data.visits(url, run.run_key, doc_key)
    st.text(trained_sentence(run, visits, not contributions.empty))
    covered = coverage_words(run, *data.coverage(url, run.run_key))
    if covered:
        st.text(covered)
    if contributions.empty:
        return
    evidence = {}
    for target_key in contributions["target_key"]:
        found = data.evidence(url, run.run_key, target_key)
        evidence[target_key] = found[found["doc_key"] == doc_key] if not found.empty else found
    table = run_table(contributions, evidence)
    table_key = f"documents_run_table:{run.run_key}"
    ui.table(
        table,
        "",
        column_config=RUN_TABLE_COLUMNS,
        on_select="rerun",
        selection_mode="single-row",
        key=table_key,
    )
    st.caption(
        "Its value and rank for every target of the run (nats; positive = lowered the "
        "target's loss). Select a row to open that target's attribution on this document."
    )
    picked = ui.selected_row(table_key)
    if picked is not None:
        open_on_attribution(run.run_key, str(table.iloc[picked]["target_key"]), doc_key)


TOP_FIRST = ["rank", "title", "share", "label", "span_words", "ngram_overlap", "similarity"]


def top_order(frame: pd.DataFrame) -> list[str]:
    """Columns of the top-contributors table as shown: rank, title, share and the evidence
    first (visible without scrolling), then the rest in the frame's order."""
    first = [c for c in TOP_FIRST if c in frame.columns]
    return first + [c for c in frame.columns if c not in first]
