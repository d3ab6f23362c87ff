"""Overview: the demo's story when there is one, else what to do next (provenance.next_step),
what the ledger holds, jobs with live progress, and a first-use path."""

import pandas as pd
import streamlit as st

from app import data, jobs_view, ui
from provenance import labels
from provenance.demo_story import read_story
from provenance.next_step import LedgerState, next_step

PAGE_NAMES = {
    "views/runs.py": "Open Runs",
    "views/targets.py": "Open Targets",
    "views/attribution.py": "Open Attribution",
}

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
                "Output": [item.target_key for item in story],
                "What happened": [item.kind for item in story],
                "Prompt": [item.prompt for item in story],
                "Generated text": [item.text for item in story],
                "Leading source": [item.title or "" for item in story],
                "Document": [item.doc_key or "" for item in story],
                labels.label("share"): [labels.share_text(item.share) for item in story],
                "Longest shared run (words)": [item.span_words for item in story],
            }
        ),
        hide_index=True,
    )
    for item in story:
        left, right = st.columns([4, 1])
        left.text(item.sentence)
        if right.button("Open its attribution", key=f"overview_open_{item.target_key}"):
            st.session_state[ui.RUN_STATE] = item.run_key
            st.session_state[ui.TARGET_STATE] = item.target_key
            st.switch_page("views/attribution.py")

runs = data.runs(url)
targets = data.targets(url)
step = next_step(
    LedgerState(
        runs=len(runs),
        runs_done=int((runs["status"] == "done").sum()),
        targets=len(targets),
        targets_attributed=int(targets["attributed"].sum()),
        jobs_open=totals.jobs_open,
    )
)
if not story and step.stage != "empty":
    st.subheader("What to do next")
    st.info(step.words, icon=":material/arrow_forward:")
    if step.page and st.button(PAGE_NAMES[step.page], key="overview_next"):
        st.switch_page(step.page)

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
if ui.table(runs, "No runs yet.", key="overview_runs"):
    ui.downloads(runs, "runs", "overview", what="every run")

st.subheader("Corpora")
ui.table(data.corpora(url), "No corpora yet.", key="overview_corpora")
