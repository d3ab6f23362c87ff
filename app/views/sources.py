"""Sources: contributions rolled up to rights holders, with the first-order takedown estimate
beside the measured drop of the target's loss."""

import streamlit as st

from app import data, ui
from provenance import figures, labels, rollups

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
    field = st.radio(
        "Group by", ["source", "author", "license"], format_func=labels.label, key="sources_field"
    )

rolled = rollups.net_shares(data.rollup(url, run_key, target_key, field))
if target_key is None:
    st.caption(
        "Summed over every target of the run: a browsing aid only, since each target is its own "
        "question. Pick one target for the takedown estimate."
    )
    table = rolled
else:
    check = data.efficiency(url, run_key, target_key)
    drop = None if check is None else check.realised_drop
    table = rollups.with_takedown(rolled, field, drop)
    if not table.empty:
        st.markdown(
            "**Takedown estimate** (first order, from the raw values alone): how much less the "
            "target's loss would have dropped without a group's documents."
        )
        if drop is not None:
            st.metric("Measured drop of the target's loss over training", f"{drop:.4g} nats")
        for sentence in table["takedown"].head(3):
            st.text(sentence)  # names a group from the corpus: shown escaped
ui.table(
    table.drop(columns=["beyond_measured"], errors="ignore"),
    "No values for this choice yet.",
    key="sources_table",
)
st.caption(rollups.NET_SHARE_WORDS)
ui.downloads(
    table,
    f"by-{field}",
    "sources",
    what=f"contribution by {labels.label(field).lower()}",
    ids=(run_key, target_key or "all-targets"),
)
st.plotly_chart(figures.rollup_figure(rolled, field), key="sources_chart")
