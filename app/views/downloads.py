"""Downloads: every table the UI shows, as CSV or JSON, and the provenance report (PDF, HTML,
JSON, CSV) of the chosen run and target."""

import streamlit as st

from app import data, report_download, ui
from provenance import health

url = ui.page("Downloads")
runs = data.runs(url)

st.subheader("Runs and jobs")
ui.downloads(runs, "runs", "downloads")
ui.downloads(data.jobs_table(url), "jobs", "downloads")
ui.downloads(data.targets(url), "targets", "downloads")

with_targets = runs[runs["targets"] > 0]
if with_targets.empty:
    st.caption("Per-target tables appear once a run has targets.")
    st.stop()
st.subheader("One target")
run_key = ui.select_run("downloads", with_targets)
target_key = ui.select_target("downloads", data.targets(url, run_key))
k = st.number_input("Top documents to include", 10, 100_000, 1000, key="downloads_k")
for by in ("specific", "raw"):
    st.caption(f"Top documents by {by} value")
    ui.downloads(data.top(url, run_key, target_key, int(k), by), f"top-{by}", "downloads")
for field in ("source", "author", "license"):
    st.caption(f"Roll-up by {field}")
    ui.downloads(data.rollup(url, run_key, target_key, field), f"by-{field}", "downloads")
st.caption("Value trajectories of the leading documents")
ui.downloads(data.trajectories(url, run_key, target_key), "trajectories", "downloads")
st.caption("Documents with negative value (filter list)")
ui.downloads(health.by_document(data.negatives(url, run_key, "specific")), "negatives", "downloads")

st.subheader("Provenance report")
report_download.report_downloads("downloads", url, run_key, target_key)
