"""Plotly figures the pages show, built from the data module's DataFrames (no store access)."""

from __future__ import annotations

import html
import math

import networkx as nx
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf")


def _plain(text: object) -> str:
    """Agent-written text (service names) for plotly, which renders a subset of HTML in labels."""
    return html.escape(str(text), quote=True)


def prices(prices_df: pd.DataFrame, bands: dict[str, tuple[float, float]]) -> go.Figure:
    """Mean settled price per round and service (a gap where a round had no deal of it), and each
    service's competitive band as two dashed lines with a light fill between (one line when it is a point)."""
    fig = go.Figure()
    services = sorted(set(prices_df["service"]) | set(bands))
    color = {sv: PALETTE[i % len(PALETTE)] for i, sv in enumerate(services)}
    if prices_df.empty:
        first, last = 0, 1
    else:
        first, last = int(prices_df["round"].min()), int(prices_df["round"].max())
    every = pd.Index(range(first, last + 1), name="round")
    for service, g in prices_df.groupby("service"):
        # every round present: a round without a deal is NaN, which plotly draws as a gap
        series = g.set_index("round")["mean_price"].reindex(every)
        fig.add_trace(
            go.Scatter(
                x=list(every),
                y=series.tolist(),
                mode="lines+markers",
                name=_plain(service),
                line={"color": color[service]},
                connectgaps=False,
            )
        )
    for service, (low, high) in sorted(bands.items()):
        name = f"{_plain(service)} competitive"
        style = {"color": color[service], "dash": "dash", "width": 1}
        fig.add_trace(
            go.Scatter(
                x=[first, last], y=[low, low], mode="lines", line=style, name=name, legendgroup=name, hoverinfo="y"
            )
        )
        if high > low:
            fig.add_trace(
                go.Scatter(
                    x=[first, last],
                    y=[high, high],
                    mode="lines",
                    line=style,
                    fill="tonexty",
                    opacity=0.5,
                    fillcolor=_tint(color[service]),
                    name=name,
                    legendgroup=name,
                    showlegend=False,
                    hoverinfo="y",
                )
            )
    fig.update_layout(
        title="Prices per round (dashed: competitive equilibrium band)",
        xaxis_title="round",
        yaxis_title="price",
        height=340,
        margin={"t": 40, "b": 30},
    )
    return fig


def _tint(hex_color: str, alpha: float = 0.12) -> str:
    r, g, b = (int(hex_color[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def lines(df: pd.DataFrame, columns: list[str], title: str, kind: str = "line") -> go.Figure:
    """One trace per column over the rounds (columns of one scale; see ``facets`` otherwise)."""
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


def facets(df: pd.DataFrame, columns: list[str], title: str) -> go.Figure:
    """One panel per column, each with its own y axis, sharing the round axis (series of any scale)."""
    columns = [c for c in columns if c in df]
    fig = make_subplots(
        rows=max(1, len(columns)), cols=1, shared_xaxes=True, subplot_titles=columns, vertical_spacing=0.08
    )
    for i, c in enumerate(columns, start=1):
        fig.add_trace(
            go.Scatter(x=df["round"], y=df[c], mode="lines", name=c, line={"color": PALETTE[(i - 1) % 8]}),
            row=i,
            col=1,
        )
    fig.update_layout(title=title, height=120 + 160 * len(columns), margin={"t": 60, "b": 30}, showlegend=False)
    fig.update_xaxes(title_text="round", row=len(columns), col=1)
    return fig


ROLE_COLORS = {"buyer": "#1f77b4", "seller": "#d62728"}


def network(pairs: pd.DataFrame, roles: dict[str, str] | None = None) -> go.Figure:
    """Who trades with whom: agents as labelled nodes coloured by role, edge width by deals."""
    roles = roles or {}
    g: nx.Graph[str] = nx.Graph()  # agent ids
    for row in pairs.itertuples(index=False):
        g.add_edge(row.buyer, row.seller, deals=row.deals)
    pos = nx.spring_layout(g, seed=1) if len(g) else {}
    fig = go.Figure()
    # one trace per edge width (rounded), edges separated by None: hundreds of pairs would
    # otherwise make hundreds of traces, which plotly builds and draws slowly
    by_width: dict[float, tuple[list, list]] = {}
    for a, b, attrs in g.edges(data=True):
        (x0, y0), (x1, y1) = pos[a], pos[b]
        xs, ys = by_width.setdefault(round(0.5 + math.log1p(attrs["deals"]), 1), ([], []))
        xs += [x0, x1, None]
        ys += [y0, y1, None]
    for width, (xs, ys) in sorted(by_width.items()):
        fig.add_trace(
            go.Scatter(
                x=xs, y=ys, mode="lines", hoverinfo="skip", showlegend=False, line={"width": width, "color": "#bbb"}
            )
        )
    deals = dict(g.degree(weight="deals"))
    by_role: dict[str, list[str]] = {}
    for n in g.nodes:
        by_role.setdefault(roles.get(n, "other"), []).append(n)
    for i, (role, nodes) in enumerate(sorted(by_role.items())):
        fig.add_trace(
            go.Scatter(
                x=[pos[n][0] for n in nodes],
                y=[pos[n][1] for n in nodes],
                mode="markers+text",
                text=[_plain(n) for n in nodes],
                textposition="top center",
                textfont={"size": 9},
                hovertext=[f"{_plain(n)} ({_plain(role)}): {deals[n]} deals" for n in nodes],
                hoverinfo="text",
                marker={"size": 10, "color": ROLE_COLORS.get(role, PALETTE[(i + 2) % len(PALETTE)])},
                name=_plain(role),
            )
        )
    fig.update_layout(
        title="Who trades with whom (colour: role; edge width: deals)",
        height=480,
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


OP_COLORS = {
    "session.round": "#9467bd",
    "invoke_agent": "#1f77b4",
    "chat": "#ff7f0e",
    "protocol.submit": "#2ca02c",
    "market.settle": "#d62728",
}
WATERFALL_ROWS = 150  # rows drawn (a chart taller than a screen or two reads badly); the table lists every span
LABEL_PX = 330  # the left margin holding span names
INDENT = "\u2003"  # an em space per level: plotly collapses runs of ASCII spaces in text


def waterfall(spans: pd.DataFrame) -> go.Figure:
    """One bar per span on its own row (indented by depth, in tree order) on one time axis in ms
    from the first span shown, so nesting and relative durations read at a glance."""
    shown = spans.head(WATERFALL_ROWS)
    t0 = shown["start_ns"].min() if len(shown) else 0
    n = len(shown)
    labels = [
        f"{INDENT * int(d)}{_plain(name)}"
        + (f" · {_plain(a)}" if isinstance(a, str) and a not in str(name) else "")
        + (f" · round {int(r)}" if op == "session.round" and r == r and r is not None else "")
        for d, name, a, op, r in zip(
            shown["depth"], shown["name"], shown["agent"], shown["operation"], shown["round"], strict=True
        )
    ]
    dur = (shown["end_ns"] - shown["start_ns"]) / 1e6
    # a span too short to see (a settlement takes microseconds) still gets a sliver; hover tells its time
    total = (shown["end_ns"].max() - t0) / 1e6 if n else 0.0
    drawn = dur.clip(lower=max(float(total), 1e-9) * 0.004)
    fig = go.Figure(
        go.Bar(
            y=list(range(n)),
            x=drawn,
            base=(shown["start_ns"] - t0) / 1e6,
            orientation="h",
            marker={"color": [OP_COLORS.get(op, "#7f7f7f") for op in shown["operation"]]},
            hovertext=[f"{lab.strip()}: {d:.3f} ms" for lab, d in zip(labels, dur, strict=True)],
            hoverinfo="text",
        )
    )
    # names as left-aligned annotations in the left margin: tick labels are right-aligned, which
    # would hide the indentation that shows the nesting
    # (one list, not add_annotation per row: plotly re-validates the whole layout on each call)
    notes = [
        {
            "x": 0,
            "y": i,
            "xref": "paper",
            "yref": "y",
            "text": label,
            "showarrow": False,
            "xanchor": "left",
            "xshift": -LABEL_PX,
            "font": {"size": 11},
        }
        for i, label in enumerate(labels)
    ]
    fig.update_layout(
        title="Trace waterfall (ms from the first span shown)"
        + (f": the first {n} of {len(spans)} spans" if len(spans) > n else ""),
        yaxis={"showticklabels": False, "range": [n - 0.5, -0.5]},  # first span on top
        xaxis={"title": "ms"},
        height=max(200, 60 + 20 * n),
        margin={"t": 40, "b": 30, "l": LABEL_PX + 10},
        bargap=0.25,
        annotations=notes,
    )
    return fig
