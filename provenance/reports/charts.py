"""The report's charts: provenance/figures.py's builders fed with DataFrames rebuilt from the
report, so the HTML, the PDF and the UI show the same figures of the same numbers."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from db.rankings import TOP_COLUMNS
from provenance.figures import (
    rollup_figure,
    similarity_scatter_figure,
    top_documents_figure,
    trajectories_figure,
)


def figures(report: dict) -> list[tuple[str, go.Figure]]:
    """(caption, figure) of every chart the report has data for, in reading order."""
    out: list[tuple[str, go.Figure]] = []
    top = pd.DataFrame(
        [
            {
                "rank": r["rank"],
                "doc_key": r["doc_key"],
                "value": r["specific"],
                "raw_value": r["raw"],
                "specific_value": r["specific"],
                "share": r["share"],
                "source": r["source"],
                "title": r["title"],
            }
            for r in report["contributors"]
        ],
        columns=TOP_COLUMNS,
    )
    if len(top):
        out.append(("Top contributors (specific value, nats)", top_documents_figure(top)))
    for field, rows in report["rollups"].items():
        if rows:
            frame = pd.DataFrame(rows)
            out.append((f"Roll-up by {field}", rollup_figure(frame, field)))
    if report["trajectories"]:
        frame = pd.DataFrame(report["trajectories"], columns=["doc_key", "step", "value"])
        out.append(("When each top document was learnt", trajectories_figure(frame)))
    scored = [
        {"doc_key": r["doc_key"], "value": r["specific"], "similarity": r["evidence"]["similarity"]}
        for r in report["contributors"] + report["harmful"]
        if r["evidence"] is not None
    ]
    if scored:
        out.append(
            ("Value vs semantic similarity", similarity_scatter_figure(pd.DataFrame(scored)))
        )
    return out
