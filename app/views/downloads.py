"""Downloads: every table the UI shows, as CSV or JSON, each button saying what it holds and
each file named for it, and the provenance report (PDF, HTML, JSON, CSV) of the chosen run and
target."""

import streamlit as st

from app import data, report_download, ui
from provenance import health, labels, ranking_words

url = ui.page("Downloads")
runs = data.runs(url)

st.subheader("The ledger's lists")
ui.downloads(runs, "runs", "downloads", what="every run")
ui.downloads(data.jobs_table(url), "jobs", "downloads", what="every job")
ui.downloads(data.targets(url), "targets", "downloads", what="every target")

with_targets = runs[runs["targets"] > 0]
if with_targets.empty:
    st.caption("Per-target tables appear once a run has targets.")
    st.stop()
st.subheader("One target")
run_key = ui.select_run("downloads", with_targets)
target_key = ui.select_target("downloads", data.targets(url, run_key))
ids = (run_key, target_key)
k = int(st.number_input("Top documents to include", 10, 100_000, 1000, key="downloads_k"))
for by in ("specific", "raw"):
    ui.downloads(
        data.top(url, run_key, target_key, k, by),
        f"top-{k}-{by}",
        "downloads",
        what=f"top {k} documents, {ranking_words.RANKED_BY[by]}",
        ids=ids,
    )
for field in ("source", "author", "license"):
    ui.downloads(
        data.rollup(url, run_key, target_key, field),
        f"by-{field}",
        "downloads",
        what=f"contribution by {labels.label(field).lower()}",
        ids=ids,
    )
ui.downloads(
    data.trajectories(url, run_key, target_key),
    "trajectories",
    "downloads",
    what="value of the leading documents over training",
    ids=ids,
)
ui.downloads(
    health.by_document(data.negatives(url, run_key, "specific")),
    "negative-specific-documents",
    "downloads",
    what="documents with a negative specific value, every target of the run",
    ids=(run_key,),
)

st.subheader("Provenance report")
report_download.report_downloads("downloads", url, run_key, target_key)
