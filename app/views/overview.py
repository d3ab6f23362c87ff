"""Overview: the demo's story when there is one, what the ledger holds, jobs with live
progress, and a first-use path."""

import pandas as pd
import streamlit as st

from app import data, jobs_view, ui
from provenance.demo_story import read_story

url = ui.page("Overview")
totals = data.totals(url)

story = read_story(data.data_dir())
if story:
    st.subheader("Start here: what the demo's model wrote, and where it came from")
    st.markdown(
        "The demo trained a small model on State of the Union paragraphs and on a few "
        "registered works that occur many times, then asked it to continue three prompts. "
        "For each output, the training document the product puts first, its share of the "
        "positive value and the longest run of words the two share:"
    )
    st.dataframe(
        pd.DataFrame(
            {
                "output": [item.target_key for item in story],
                "what happened": [item.kind for item in story],
                "prompt": [item.prompt for item in story],
                "generated text": [item.text for item in story],
                "leading source": [item.title for item in story],
                "document": [item.doc_key for item in story],
                "share": [item.share for item in story],
                "shared words": [item.span_words for item in story],
            }
        ),
        hide_index=True,
        column_config={"share": st.column_config.NumberColumn(format="percent")},
    )
    for item in story:
        left, right = st.columns([4, 1])
        left.text(item.sentence)
        if right.button("Open its attribution", key=f"overview_open_{item.target_key}"):
            st.session_state[ui.RUN_STATE] = item.run_key
            st.session_state[ui.TARGET_STATE] = item.target_key
            st.switch_page("views/attribution.py")

if totals.runs == 0 and totals.jobs_open == 0:
    st.info("The ledger is empty. Three ways to get a first answer:")
    st.markdown(
        "1. **Try the demo**: `make demo` (or `provenance demo`) trains a small model, with "
        "attribution, on State of the Union paragraphs and a few registered works it sees many "
        "times; it reproduces one, and this page then opens on where that came from.\n"
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
