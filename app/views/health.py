"""Corpus health: documents whose value is negative, i.e. that pushed the model away from
targets, with a downloadable filter list."""

import streamlit as st

from app import data, ui
from provenance import health
from provenance.csv_safety import csv_bytes

url = ui.page("Corpus health")
runs = ui.runs_with_targets(url, "No run has targets yet, so no document has a value to judge.")

run_key = ui.select_run("health", runs)
by_raw = st.toggle("Judge by raw value instead of specific", key="health_by_raw")
by = "raw" if by_raw else "specific"
pairs = data.negatives(url, run_key, by)
summary = health.by_document(pairs, by)
st.caption(
    f"A negative {by} value means training on the document raised that target's loss. "
    "Documents negative for many targets are candidates to filter out."
)
if summary.empty:
    st.success("No document has a negative value for any target of this run.")
    st.stop()
st.metric("Documents with a negative value", len(summary))
st.dataframe(summary, hide_index=True, width="stretch", key="health_table")
st.markdown("**Filter list** (one document per line):")
left, right = st.columns(2)
left.download_button(
    "Download filter list (CSV)",
    csv_bytes(summary),  # formulas neutralised (provenance.csv_safety)
    file_name="negative-documents.csv",
    mime="text/csv",
    key="health_csv",
)
right.download_button(
    "Download filter list (JSONL)",
    health.to_jsonl(summary).encode("utf-8"),
    file_name="negative-documents.jsonl",
    mime="application/x-ndjson",
    key="health_jsonl",
)
with st.expander("Every negative (document, target) pair"):
    st.dataframe(pairs, hide_index=True, width="stretch", key="health_pairs")
    ui.downloads(pairs, "negative-pairs", "health")
