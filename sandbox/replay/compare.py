"""Runs side by side: per-round metrics as DataFrames and a plotly figure saved as HTML.

Used for a fork against its parent, and for any two runs of one store.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from traces import read
from traces.store import Store

DEFAULT_METRICS = ("transactions", "volume", "mean_price", "cum_surplus", "efficiency", "fees")


def run_metrics(store: Store, run_id: str) -> Any:
    """Per-round metrics of a recorded run as a DataFrame indexed by round (scalars only)."""
    import pandas as pd

    rows = [{"round": r.round, **json.loads(r.metrics_json)} for r in read.rounds(store, run_id)]
    if not rows:
        return pd.DataFrame(index=pd.Index([], name="round"))
    df = pd.DataFrame(rows).set_index("round")
    return df[[c for c in df.columns if not df[c].map(lambda v: isinstance(v, (dict, list))).any()]]


def compare_runs(store: Store, run_ids: Sequence[str], metrics: Sequence[str] = DEFAULT_METRICS) -> Any:
    """Metrics of several runs side by side: columns (metric, run id), rows by round."""
    import pandas as pd

    frames = {}
    for rid in run_ids:
        df = run_metrics(store, rid)
        frames[rid] = df[[m for m in metrics if m in df.columns]]
    out = pd.concat(frames, axis=1, names=["run", "metric"]).swaplevel(axis=1)
    return out[[(m, rid) for m in metrics for rid in run_ids if m in frames[rid].columns]]


def first_different_round(df: Any) -> int | None:
    """The first round where the runs' metrics differ (None if they never do)."""
    metrics = df.columns.get_level_values(0).unique()
    for rnd, row in df.iterrows():
        for m in metrics:
            vals = row[m].tolist()
            if any(str(v) != str(vals[0]) for v in vals[1:]):
                return int(rnd)
    return None


def compare_figure(df: Any, title: str = "runs compared", fork_round: int | None = None) -> Any:
    """A plotly figure: one panel per metric, one line per run, the fork round marked."""
    from plotly.subplots import make_subplots

    metrics = list(df.columns.get_level_values(0).unique())
    fig = make_subplots(rows=len(metrics), cols=1, shared_xaxes=True, subplot_titles=metrics, vertical_spacing=0.04)
    palette = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e")
    for i, m in enumerate(metrics, start=1):
        for j, rid in enumerate(df[m].columns):
            fig.add_scatter(
                x=df.index,
                y=df[m][rid],
                name=str(rid),
                legendgroup=str(rid),
                showlegend=i == 1,
                line={"color": palette[j % len(palette)]},
                row=i,
                col=1,
            )
        if fork_round is not None:
            fig.add_vline(x=fork_round + 0.5, line_dash="dot", line_color="grey", row=i, col=1)
    fig.update_layout(title=title, height=220 * len(metrics) + 120, xaxis_title="round")
    return fig


def save_figure(fig: Any, path: str | Path) -> Path:
    """Write a figure as self-contained HTML (or PNG when the name says so and kaleido is installed)."""
    out = Path(path)
    if out.suffix.lower() == ".png":
        try:
            fig.write_image(str(out))
        except (ValueError, ImportError, RuntimeError) as err:
            raise ValueError(f"cannot write {out} as PNG ({err}); give a .html path instead") from None
    else:
        fig.write_html(str(out), include_plotlyjs=True)
    return out
