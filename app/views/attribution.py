"""Attribution: which training documents made the model produce this target, and how much."""

import pandas as pd
import streamlit as st

from app import data, document_view, evidence_view, highlight, report_download, spans, ui
from provenance import efficiency, figures, labels, ranking, ranking_words
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
        ui.table(efficiency.decomposition(check), "", key="attribution_efficiency_terms")
        st.caption(
            "Each gradient is credited in full at the step it entered; momentum applies it over "
            "later steps, weight decay moves the weights too (credited to no document), and the "
            "prediction is first order in the step. The terms add up exactly."
        )
    series = data.efficiency_series(url, run_key, target_key)
    st.plotly_chart(figures.efficiency_figure(series), key="attribution_efficiency_chart")

by = st.radio(
    "Order documents by",
    ranking_words.RANKINGS,
    format_func=ranking_words.RANKED_BY.__getitem__,
    horizontal=True,
    key="attribution_by",
)
k = int(
    st.number_input(
        "How many documents",
        min_value=1,
        value=20,
        step=10,
        key="attribution_k",
        help="Any number; a long list is shown a page at a time.",
    )
)
top = data.ranked(url, run_key, target_key, k, by)
harmful = data.top(url, run_key, target_key, 10, "specific", ascending=True)
harmful = harmful[harmful["value"] < 0]
found = data.evidence(url, run_key, target_key)
columns = evidence_view.COLUMNS  # ui.table names the value columns (provenance.labels)
value_columns = ["rank", "doc_key", "title", "source", "specific_value", "raw_value"]
top_columns = [*value_columns, "share", "rank_by_value", "rank_by_words"]
if by == "raw":
    top_columns[4:6] = ["raw_value", "specific_value"]

st.subheader(f"Top contributors, ranked by {ranking_words.RANKED_BY[by]}")
if by == "fused":
    st.caption(ranking.FUSED_WORDS)
shown = evidence_view.with_evidence(top[top_columns], found)
page = ui.paged(shown, "attribution_top_page")
links = data.links(url, run_key, tuple(page["doc_key"]))  # the page's only: k may be 17,000
page = page.assign(url=[document_view.safe_link(links.get(d)) for d in page["doc_key"]])
if ui.table(
    page,
    "No values for this target yet: its attribution job has not committed a step.",
    column_config={**columns, "url": st.column_config.LinkColumn("URL")},
    column_order=document_view.top_order(page),
    on_select="rerun",
    selection_mode="single-row",
    key="attribution_top_table",
):
    st.caption("Select a row (or click a bar of the chart below) to open its document.")
    st.caption(labels.NO_SHARE_WORDS)
    ui.downloads(
        shown,
        f"top-{k}-{by}",
        "attribution",
        what=f"top {k} documents, {ranking_words.RANKED_BY[by]}",
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

shown_keys = list(page["doc_key"]) + list(harmful["doc_key"])  # this page of the table
todo = evidence_view.missing(shown_keys, found)
with st.expander("What the evidence means", expanded=False):
    st.markdown(evidence_view.WORDS)
if todo:
    st.caption(
        f"{len(todo)} shown documents have no evidence yet. Computing it loads a sentence "
        "embedding model and indexes the corpus for BM25 (seconds); it is then kept in the ledger."
    )
    if st.button(f"Compute evidence for {len(todo)} documents", key="attribution_evidence"):
        bar = st.progress(0.0, text="Loading the embedding model and the corpus index...")
        data.compute_evidence(run_key, target_key, todo, evidence_view.progress_to(bar))
        st.rerun()

if not top.empty:
    bars = st.plotly_chart(
        figures.top_documents_figure(top[top["doc_key"].isin(page["doc_key"])]),
        key="attribution_top_chart",
        on_select="rerun",
        selection_mode="points",
    )
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
    shared = spans.shared_spans(found, shown_keys)
    span_rows = spans.span_table(text, shared)
    if shared:
        st.markdown("**The target's spans found in training documents**")
        highlight.show_highlighted(text, numbered=[(s.start, s.end) for s in shared])
        ui.table(
            span_rows,
            "",
            column_config={"span": st.column_config.NumberColumn("span", width="small")},
            on_select="rerun",
            selection_mode="single-row",
            key="attribution_span_table",
        )
        st.caption(
            "Each numbered span is a run of 5+ words the target shares with the documents "
            "listed beside it (documents with computed evidence). Select a row to open it."
        )
    row = ui.selected_row("attribution_top_table")
    span_row = ui.selected_row("attribution_span_table") if shared else None
    asked = [
        st.session_state.pop(document_view.ATTRIBUTION_DOC_STATE, None),  # from Documents
        document_view.fresh_pick("table", None if row is None else page.iloc[row]["doc_key"]),
        document_view.fresh_pick(
            "chart", document_view.doc_of_point(bars.selection.points, list(page["doc_key"]))
        ),
        document_view.fresh_pick(
            "spans", None if span_row is None else span_rows.iloc[span_row]["doc_key"]
        ),
    ]
    detail_key = f"attribution_doc:{run_key}:{target_key}:{by}"  # a new ranking: rank 1
    options = list(dict.fromkeys([*shown_keys, st.session_state.get(detail_key)]))
    for doc in asked:
        if doc is not None:
            options = list(dict.fromkeys([doc, *options]))
            st.session_state[detail_key] = doc
    doc_key = st.selectbox("Document", [o for o in options if o is not None], key=detail_key)
    try:
        detail = data.document(url, run_key, doc_key)
    except LookupError:
        st.warning(
            f"Run {ui.escape_markdown(run_key)} has no document "
            f"{ui.escape_markdown(doc_key)} in its corpus."
        )
        st.stop()
    corpus_id = data.run_corpus_id(url, run_key)
    st.dataframe(
        document_view.metadata_frame(detail, f"corpus {corpus_id}").drop(columns=["sha256"]),
        hide_index=True,
        column_config=document_view.METADATA_COLUMNS,
        key="attribution_doc_meta",
    )
    if corpus_id is not None and st.button(
        "Everything about this document (every run and target)", key="attribution_doc_open"
    ):
        st.session_state[document_view.OPEN_STATE] = (corpus_id, doc_key)
        st.switch_page("views/documents.py")
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
    ui.table(data.contributions(url, run_key, doc_key), "", key="attribution_doc_targets")

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
