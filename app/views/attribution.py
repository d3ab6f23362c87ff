"""Attribution: which training documents made the model produce this target, and how much."""

import pandas as pd
import streamlit as st

from app import data, evidence_view, highlight, report_download, ui
from provenance import efficiency, figures, labels, ranking
from provenance.reference import describe, target_flag

url = ui.page("Attribution")
runs = ui.runs_with_targets(
    url, "No run has targets yet: add targets on **Targets**, or train with targets on **Runs**."
)

left, right = st.columns(2)
with left:
    run_key = ui.select_run("attribution", runs)
targets = data.targets(url, run_key)
with right:
    target_key = ui.select_target("attribution", targets)

text, prompt = data.target_text(url, run_key, target_key)
if prompt:
    st.markdown("**Prompt** (given to the model; not attributed)")
    ui.show_text(prompt)
st.markdown(f"**Target text** ({labels.origin_words(targets, target_key)})")
ui.show_text(text)

recipe = data.recipe(url, run_key)
if recipe is not None:
    flag = target_flag(recipe.flags, target_key)
    if flag:
        st.warning("This target's source cannot be found in this run:", icon=":material/warning:")
        ui.show_text(f"This target {flag}")  # names a document id: shown escaped
    st.caption(f"Specific values are measured against {describe(recipe.reference)}.")

with st.expander("What the numbers mean", expanded=False):
    st.markdown(ui.VALUE_WORDS)

check = data.efficiency(url, run_key, target_key)
if check is not None:
    st.markdown("**Efficiency check**: do the documents' values add up to what training did?")
    cols = st.columns(3)
    cols[0].metric("Sum of all documents' values", f"{check.values_sum:.4f} nats")
    cols[1].metric("Measured drop of the target's loss", f"{check.realised_drop:.4f} nats")
    cols[2].metric("First-order prediction", f"{check.predicted_drop:.4f} nats")
    if efficiency.agrees(check):
        st.success(efficiency.verdict(check), icon=":material/check:")
    else:
        st.info(efficiency.verdict(check), icon=":material/info:")
    with st.expander("Where the difference comes from", expanded=False):
        st.dataframe(efficiency.decomposition(check), hide_index=True)
        st.caption(
            "Each gradient is credited in full at the step it entered; momentum applies it over "
            "later steps, weight decay moves the weights too (credited to no document), and the "
            "prediction is first order in the step. The terms add up exactly."
        )
    series = data.efficiency_series(url, run_key, target_key)
    st.plotly_chart(figures.efficiency_figure(series), key="attribution_efficiency_chart")

by = st.radio(
    "Order documents by",
    ranking.RANKINGS,
    format_func=ranking.RANKED_BY.__getitem__,
    horizontal=True,
    key="attribution_by",
)
k = st.slider("How many documents", 5, 100, 20, step=5, key="attribution_k")
top = data.ranked(url, run_key, target_key, k, by)
harmful = data.top(url, run_key, target_key, 10, "specific", ascending=True)
harmful = harmful[harmful["value"] < 0]
found = data.evidence(url, run_key, target_key)
columns = evidence_view.COLUMNS  # ui.table names the value columns (provenance.labels)
value_columns = ["rank", "doc_key", "title", "source", "specific_value", "raw_value"]
top_columns = [*value_columns, "share", "rank_by_value", "rank_by_words"]
if by == "raw":
    top_columns[4:6] = ["raw_value", "specific_value"]

st.subheader(f"Top contributors, ranked by {ranking.RANKED_BY[by]}")
if by == "fused":
    st.caption(ranking.FUSED_WORDS)
shown = evidence_view.with_evidence(top[top_columns], found)
if ui.table(
    shown,
    "No values for this target yet: its attribution job has not committed a step.",
    column_config=columns,
    key="attribution_top_table",
):
    st.caption(labels.NO_SHARE_WORDS)
    ui.downloads(
        shown,
        f"top-{k}-{by}",
        "attribution",
        what=f"top {k} documents, {ranking.RANKED_BY[by]}",
        ids=(run_key, target_key),
    )

st.subheader("Most harmful documents")
st.caption(
    "Negative value: training on these raised the target's loss (pushed the model away). "
    "They have no share of the positive value; their value in nats says how much they harmed."
)
ui.table(
    evidence_view.with_evidence(harmful[value_columns], found),
    "None: no document has a negative value for this target.",
    column_config=columns,
    key="attribution_harmful_table",
)

shown_keys = list(top["doc_key"]) + list(harmful["doc_key"])
todo = evidence_view.missing(shown_keys, found)
with st.expander("What the evidence means", expanded=False):
    st.markdown(evidence_view.WORDS)
if todo:
    st.caption(
        f"{len(todo)} shown documents have no evidence yet. Computing it loads a sentence "
        "embedding model and indexes the corpus for BM25 (seconds); it is then kept in the ledger."
    )
    if st.button(f"Compute evidence for {len(todo)} documents", key="attribution_evidence"):
        with st.spinner("Computing evidence..."):
            data.compute_evidence(run_key, target_key, todo)
        st.rerun()

if not top.empty:
    st.plotly_chart(figures.top_documents_figure(top), key="attribution_top_chart")
    points = evidence_view.scatter_frame(pd.concat([top, harmful]), found)
    if points.empty:
        st.caption("Value vs semantic similarity appears here once evidence is computed.")
    else:
        st.plotly_chart(
            figures.similarity_scatter_figure(points), key="attribution_similarity_chart"
        )
        st.caption(
            "High value at low similarity: the document taught the model something other than "
            "the target's wording (style, facts). High similarity with little value: close in "
            "meaning, but training on it did not make this output likelier."
        )

    st.subheader("Document detail")
    doc_key = st.selectbox(
        "Document",
        list(dict.fromkeys(shown_keys)),
        key=f"attribution_doc:{run_key}:{target_key}:{by}",  # a new ranking starts at rank 1
    )
    detail = data.document(url, run_key, doc_key)
    meta = {
        "title": detail.title,
        "source": detail.source,
        "author": detail.author,
        "license": detail.license,
        "date": detail.date,
        "url": detail.url,
    }
    st.dataframe(
        [{"field": f, "value": v or ""} for f, v in meta.items()],
        hide_index=True,
        key="attribution_doc_meta",
    )
    marks = evidence_view.highlights(found, doc_key)
    if marks is None:
        ui.show_text(detail.text)
        st.caption("Compute the evidence above to highlight the spans it shares with the target.")
    else:
        in_target, in_document = marks
        st.caption(highlight.LEGEND)
        left, right = st.columns(2)
        with left:
            st.markdown("**Document**")
            highlight.show_highlighted(detail.text, in_document.shared, in_document.longest)
        with right:
            st.markdown("**Target**")
            highlight.show_highlighted(text, in_target.shared, in_target.longest)
    st.caption("This document's value for every target of the run:")
    st.dataframe(data.contributions(url, run_key, doc_key), hide_index=True, width="stretch")

st.subheader("Contribution by rights holder")
field = st.radio(
    "Group by", ["source", "author", "license"], horizontal=True, key="attribution_field"
)
rolled = data.rollup(url, run_key, target_key, field)
st.plotly_chart(figures.rollup_figure(rolled, field), key="attribution_rollup_chart")

st.subheader("When did the model learn this?")
paths = data.trajectories(url, run_key, target_key)
if paths.empty:
    st.caption("No value snapshots recorded for this target.")
else:
    leaders = set(top["doc_key"].head(10))
    st.plotly_chart(
        figures.trajectories_figure(paths[paths["doc_key"].isin(leaders)]),
        key="attribution_trajectories_chart",
    )
    st.caption("Cumulative specific value of the leading documents after each ledger commit.")

st.subheader("Provenance report")
report_download.report_downloads("attribution", url, run_key, target_key)
