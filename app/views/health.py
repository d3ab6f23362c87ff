"""Corpus health: documents whose value is negative, i.e. that pushed the model away from
targets, above a threshold the reader sets and sees, with a downloadable filter list."""

import streamlit as st

from app import data, ui
from provenance import health, labels
from provenance.csv_safety import csv_bytes

url = ui.page("Corpus health")
runs = ui.runs_with_targets(url, "No run has targets yet, so no document has a value to judge.")

run_key = ui.select_run("health", runs)
targets = len(data.targets(url, run_key))
by_raw = st.toggle("Judge by raw value instead of specific", key="health_by_raw")
by = "raw" if by_raw else "specific"
pairs = data.negatives(url, run_key, by)
summary = health.by_document(pairs, by)
with st.expander("What this measures, and what it does not", expanded=True):
    st.markdown(health.CAVEAT)
if summary.empty:
    st.success("No document has a negative value for any target of this run.")
    st.stop()

left, right = st.columns(2)
min_targets = 1
if targets > 1:
    min_targets = left.slider(
        "Negative for at least this many targets",
        1,
        targets,
        targets,  # by default only documents that worked against every target
        key="health_min_targets",
    )
min_harm = right.number_input(
    "and harmful by at least (nats, summed over those targets)",
    min_value=0.0,
    value=0.0,
    step=0.1,
    format="%.4f",
    key="health_min_harm",
)
chosen = health.candidates(summary, min_targets=min_targets, min_harm=min_harm)
st.markdown(health.threshold_words(min_targets, targets, min_harm, by))
cols = st.columns(2)
cols[0].metric("Documents with a negative value for any target", f"{len(summary):,}")
cols[1].metric("Documents past the threshold (candidates to review)", f"{len(chosen):,}")
ui.table(chosen, "No document passes this threshold.", key="health_table")
if chosen.empty:
    st.stop()
st.markdown("**Filter list** (one document per line, the documents past the threshold):")
left, right = st.columns(2)
left.download_button(
    f"CSV: {len(chosen)} candidate documents to review",
    csv_bytes(chosen),  # the ledger's column names, for a pipeline; formulas neutralised
    file_name=labels.file_name(f"negative-{by}-documents", run_key, ext="csv"),
    mime="text/csv",
    key="health_csv",
)
right.download_button(
    f"JSONL: {len(chosen)} candidate documents to review",
    health.to_jsonl(chosen).encode("utf-8"),
    file_name=labels.file_name(f"negative-{by}-documents", run_key, ext="jsonl"),
    mime="application/x-ndjson",
    key="health_jsonl",
)
with st.expander("Every negative (document, target) pair"):
    ui.table(pairs, "None.", key="health_pairs")
    ui.downloads(
        pairs,
        f"negative-{by}-pairs",
        "health",
        what="every negative (document, target) pair",
        ids=(run_key,),
    )
