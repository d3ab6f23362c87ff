"""Overview: what the ledger holds, jobs with live progress, and a first-use path."""

import streamlit as st

from app import data, jobs_view, ui

url = ui.page("Overview")
totals = data.totals(url)

if totals.runs == 0 and totals.jobs_open == 0:
    st.info("The ledger is empty. Three ways to get a first answer:")
    st.markdown(
        "1. **Try the demo**: `make demo` (or `provenance demo`) trains a small model on the "
        "State of the Union corpus with attribution and fills this ledger.\n"
        "2. **Train on your corpus**: open **Runs**, upload a JSONL/CSV corpus (or choose one "
        "from the data directory's corpora folder), and queue a training run; start a worker "
        "with `provenance worker` to execute it.\n"
        "3. **Then** add the texts you want explained on **Targets** and browse the documents "
        "that made them on **Attribution**."
    )

cols = st.columns(5)
cols[0].metric("Corpora", totals.corpora)
cols[1].metric("Documents", f"{totals.documents:,}")
cols[2].metric("Runs", totals.runs)
cols[3].metric("Targets", totals.targets)
cols[4].metric("Open jobs", totals.jobs_open)

st.subheader("Jobs")
jobs_view.live_jobs("overview")

st.subheader("Runs")
runs = data.runs(url)
if ui.table(runs, "No runs yet."):
    ui.downloads(runs, "runs", "overview")

st.subheader("Corpora")
ui.table(data.corpora(url), "No corpora yet.")
