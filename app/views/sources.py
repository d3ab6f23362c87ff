"""Sources: contributions rolled up to rights holders, with the first-order takedown estimate."""

import streamlit as st

from app import data, ui
from provenance import figures, rollups

url = ui.page("Sources")
runs = ui.runs_with_targets(
    url, "No run has targets yet: add targets on **Targets**, or train with targets on **Runs**."
)

left, middle, right = st.columns(3)
with left:
    run_key = ui.select_run("sources", runs)
with middle:
    target_key = ui.select_target("sources", data.targets(url, run_key), allow_all=True)
with right:
    field = st.radio("Group by", ["source", "author", "license"], key="sources_field")

rolled = data.rollup(url, run_key, target_key, field)
if target_key is None:
    st.caption(
        "Summed over every target of the run: a browsing aid only, since each target is its own "
        "question. Pick one target for the takedown estimate."
    )
    table = rolled
else:
    table = rollups.with_takedown(rolled, field)
    if not table.empty:
        st.markdown("**Takedown estimate** (first order, from the values alone):")
        for sentence in table["takedown"].head(3):
            st.text(sentence)
st.dataframe(
    table,
    hide_index=True,
    width="stretch",
    key="sources_table",
    column_config={
        "raw": st.column_config.NumberColumn("raw value (nats)", format="%.5f"),
        "specific": st.column_config.NumberColumn("specific value (nats)", format="%.5f"),
        "share": st.column_config.NumberColumn("share of positive value", format="percent"),
    },
)
ui.downloads(table, f"by-{field}", "sources")
st.plotly_chart(figures.rollup_figure(rolled, field), key="sources_chart")
