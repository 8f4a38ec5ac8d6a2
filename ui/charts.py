"""Plotly figures the pages show, built from the data module's DataFrames (no store access)."""

from __future__ import annotations

import html
import math

import networkx as nx
import pandas as pd
import plotly.graph_objects as go

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf")


def _plain(text: object) -> str:
    """Agent-written text (service names) for plotly, which renders a subset of HTML in labels."""
    return html.escape(str(text), quote=True)


def prices(prices_df: pd.DataFrame, bands: dict[str, tuple[float, float]]) -> go.Figure:
    """Mean settled price per round and service, with each service's competitive band."""
    fig = go.Figure()
    services = sorted(set(prices_df["service"]) | set(bands))
    color = {sv: PALETTE[i % len(PALETTE)] for i, sv in enumerate(services)}
    for service, g in prices_df.groupby("service"):
        fig.add_trace(
            go.Scatter(
                x=g["round"],
                y=g["mean_price"],
                mode="lines+markers",
                name=_plain(service),
                line={"color": color[service]},
            )
        )
    for service, (low, high) in sorted(bands.items()):
        fig.add_hrect(
            y0=low,
            y1=max(high, low + 0.01),
            opacity=0.18,
            line_width=0,
            fillcolor=color[service],
            annotation_text=f"{_plain(service)} competitive",
            annotation_position="top left",
        )
    fig.update_layout(
        title="Prices per round (bands: competitive equilibrium)",
        xaxis_title="round",
        yaxis_title="price",
        height=340,
        margin={"t": 40, "b": 30},
    )
    return fig


def lines(df: pd.DataFrame, columns: list[str], title: str, kind: str = "line") -> go.Figure:
    """One trace per column over the rounds."""
    fig = go.Figure()
    for c in columns:
        if c not in df:
            continue
        if kind == "bar":
            fig.add_trace(go.Bar(x=df["round"], y=df[c], name=c))
        else:
            fig.add_trace(go.Scatter(x=df["round"], y=df[c], mode="lines", name=c))
    fig.update_layout(title=title, xaxis_title="round", height=300, margin={"t": 40, "b": 30}, barmode="group")
    return fig


def network(pairs: pd.DataFrame) -> go.Figure:
    """Who trades with whom: buyers and sellers as nodes, edge width by deals."""
    g = nx.Graph()
    for row in pairs.itertuples(index=False):
        g.add_edge(row.buyer, row.seller, deals=row.deals)
    pos = nx.spring_layout(g, seed=1) if len(g) else {}
    fig = go.Figure()
    for a, b, attrs in g.edges(data=True):
        (x0, y0), (x1, y1) = pos[a], pos[b]
        fig.add_trace(
            go.Scatter(
                x=[x0, x1],
                y=[y0, y1],
                mode="lines",
                hoverinfo="skip",
                showlegend=False,
                line={"width": 0.5 + math.log1p(attrs["deals"]), "color": "#999"},
            )
        )
    nodes = list(g.nodes)
    colors = ["#1f77b4" if n.startswith("buyer") else "#d62728" for n in nodes]
    fig.add_trace(
        go.Scatter(
            x=[pos[n][0] for n in nodes],
            y=[pos[n][1] for n in nodes],
            mode="markers",
            text=[_plain(n) for n in nodes],
            hoverinfo="text",
            marker={"size": 9, "color": colors},
            showlegend=False,
        )
    )
    fig.update_layout(
        title="Who trades with whom (blue buyers, red sellers)",
        height=420,
        margin={"t": 40},
        xaxis={"visible": False},
        yaxis={"visible": False},
    )
    return fig


def balance(df: pd.DataFrame) -> go.Figure:
    """An agent's balance after each round it moved money."""
    fig = go.Figure(go.Scatter(x=df["round"], y=df["balance"], mode="lines+markers", line_shape="hv"))
    fig.update_layout(title="Available balance", xaxis_title="round", height=300, margin={"t": 40, "b": 30})
    return fig


def waterfall(spans: pd.DataFrame) -> go.Figure:
    """Spans as horizontal bars from their start to their end (ms from the first span)."""
    t0 = spans["start_ns"].min()
    labels = [f"{'  ' * int(d)}{_plain(n)}" for n, d in zip(spans["name"], spans["depth"], strict=True)]
    fig = go.Figure(
        go.Bar(
            y=labels,
            x=(spans["end_ns"] - spans["start_ns"]) / 1e6,
            base=(spans["start_ns"] - t0) / 1e6,
            orientation="h",
            hovertext=spans["span_id"],
        )
    )
    fig.update_layout(
        title="Trace waterfall (ms)",
        yaxis={"autorange": "reversed"},
        height=max(240, 22 * len(spans)),
        margin={"t": 40, "b": 30},
    )
    return fig
