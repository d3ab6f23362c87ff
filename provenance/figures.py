"""Pure Plotly figure builders: a DataFrame in, a `go.Figure` out, no Streamlit calls.

The pages and the report writer (provenance/reports/) share these; their names and signatures are a
contract. Each takes the DataFrame a `db.rankings` / `db.catalog` read returns, unchanged.
Values are in nats; positive = the document lowered the target's loss. Labels that come from
users (document ids, titles, sources) are HTML-escaped, since Plotly renders a few tags in
text; Plotly shows the entities as the original characters.
"""

from __future__ import annotations

import html

import pandas as pd
import plotly.graph_objects as go

from provenance.labels import label

POSITIVE = "#2b7bba"  # lowered the target's loss
NEGATIVE = "#d1495b"  # raised it
_LAYOUT = {"template": "plotly_white", "margin": {"l": 10, "r": 10, "t": 50, "b": 10}}


def _label(value: object) -> str:
    return html.escape("" if value is None or value != value else str(value))  # NaN -> ""


def _colors(values: pd.Series) -> list[str]:
    return [POSITIVE if v >= 0 else NEGATIVE for v in values]


def _laid_out(figure: go.Figure, *, height: int = 380, **layout: object) -> go.Figure:
    """The figure with its titles (`layout`), its height in pixels and the shared look."""
    figure.update_layout(**layout, height=height, **_LAYOUT)
    return figure


def top_documents_figure(df: pd.DataFrame, title: str = "Top documents") -> go.Figure:
    """Horizontal bars of `value` per document, rank 1 on top.

    df: `db.rankings.top_documents` columns (rank, doc_key, value, raw_value, share,
    source, title, ...).
    """
    ordered = df.sort_values("rank", ascending=False)
    labels = [_label(k) for k in ordered["doc_key"]]
    hover = [
        f"{_label(k)}<br>{_label(t)}<br>source: {_label(s)}"
        for k, t, s in zip(ordered["doc_key"], ordered["title"], ordered["source"], strict=True)
    ]
    figure = go.Figure(
        go.Bar(
            x=ordered["value"],
            y=labels,
            orientation="h",
            marker_color=_colors(ordered["value"]),
            hovertext=hover,
            hovertemplate="%{hovertext}<br>value %{x:.4g} nats<extra></extra>",
        )
    )
    return _laid_out(
        figure,
        title=title,
        xaxis_title="value (nats; positive = lowered the target's loss)",
        height=max(250, 28 * len(df) + 100),
    )


def rollup_figure(df: pd.DataFrame, field: str, value: str = "specific") -> go.Figure:
    """Bars of the summed `value` column per group of `field` (source, author or licence).

    df: `db.rankings.rollup` columns (one target or all).
    """
    labels = [_label(v) for v in df[field]]
    figure = go.Figure(
        go.Bar(
            x=labels,
            y=df[value],
            marker_color=_colors(df[value]),
            customdata=df["documents"],
            hovertemplate="%{x}<br>%{y:.4g} nats from %{customdata} documents<extra></extra>",
        )
    )
    return _laid_out(
        figure,
        title=f"Contribution by {label(field).lower()} ({value} value, summed)",
        yaxis_title=f"{value} value (nats)",
        xaxis={"type": "category"},
    )


def trajectories_figure(df: pd.DataFrame) -> go.Figure:
    """Cumulative value over training steps, one line per document ("when was it learnt").

    df: `db.rankings.trajectories` columns (step, doc_key, value).
    """
    figure = go.Figure()
    for doc_key, rows in df.groupby("doc_key", sort=True):
        rows = rows.sort_values("step")
        figure.add_trace(
            go.Scatter(x=rows["step"], y=rows["value"], mode="lines+markers", name=_label(doc_key))
        )
    return _laid_out(
        figure,
        title="Cumulative value over training steps",
        xaxis_title="optimizer step",
        yaxis_title="cumulative value (nats)",
    )


def similarity_scatter_figure(df: pd.DataFrame) -> go.Figure:
    """Value against semantic similarity to the target, one point per document.

    df columns: doc_key, value (nats), similarity (cosine, -1..1).
    """
    figure = go.Figure(
        go.Scatter(
            x=df["similarity"],
            y=df["value"],
            mode="markers",
            marker_color=_colors(df["value"]),
            hovertext=[_label(k) for k in df["doc_key"]],
            hovertemplate="%{hovertext}<br>similarity %{x:.3f}<br>value %{y:.4g} nats"
            "<extra></extra>",
        )
    )
    return _laid_out(
        figure,
        title="Value vs semantic similarity",
        xaxis_title="semantic similarity to the target",
        yaxis_title="value (nats)",
    )


def efficiency_figure(df: pd.DataFrame) -> go.Figure:
    """Per-step efficiency of one target, cumulated: sum of values vs first-order prediction.

    df: `db.rankings.efficiency_series` rows of one target (step, values_sum, predicted_drop).
    """
    ordered = df.sort_values("step")
    figure = go.Figure()
    for column, name in (("values_sum", "sum of values"), ("predicted_drop", "predicted drop")):
        figure.add_trace(
            go.Scatter(x=ordered["step"], y=ordered[column].cumsum(), mode="lines", name=name)
        )
    return _laid_out(
        figure,
        title="Efficiency check over training",
        xaxis_title="optimizer step",
        yaxis_title="cumulative nats",
        height=320,
    )
