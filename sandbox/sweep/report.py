"""A sweep's summary: a table of each metric per grid point (mean and spread over seeds) and a plot."""

from __future__ import annotations

import json
from typing import Any

from rich.table import Table

from sandbox.sweep.core import SweepResult


def _num(v: Any) -> str:
    return "-" if v is None or v != v else f"{v:.3f}"


def sweep_table(result: SweepResult) -> Table:
    """Rich table: one row per grid point, ``mean ± std (n)`` per chosen metric."""
    agg = result.table()
    keys = list(result.spec.grid) or ["sweep"]
    table = Table(title=f"sweep {result.sweep_id}: mean ± std over seeds")
    for k in keys:
        table.add_column(k)
    for m in result.spec.metrics:
        table.add_column(m, justify="right")
    for idx, row in agg.iterrows():
        point = idx if isinstance(idx, tuple) else (idx,)
        cells = [
            f"{_num(row[(m, 'mean')])} ± {_num(row[(m, 'std')])} ({int(row[(m, 'count')])})"
            for m in result.spec.metrics
        ]
        table.add_row(*(str(p) for p in point), *cells)
    return table


def sweep_figure(result: SweepResult) -> Any:
    """Plotly figure: per metric, the mean over seeds against the first grid parameter,
    one line per combination of the others, with the standard deviation as error bars."""
    from plotly.subplots import make_subplots

    agg = result.table().reset_index()
    keys = list(result.spec.grid) or ["sweep"]
    x, others = keys[0], keys[1:]
    metrics = result.spec.metrics
    fig = make_subplots(rows=1, cols=len(metrics), subplot_titles=metrics)
    groups = agg.groupby(others, dropna=False) if others else [((), agg)]
    for label, part in groups:
        name = (
            json.dumps(dict(zip(others, label if isinstance(label, tuple) else (label,), strict=True)))
            if others
            else "all"
        )
        for i, m in enumerate(metrics, start=1):
            part = part.sort_values(x)
            fig.add_scatter(
                x=[str(v) for v in part[x]],
                y=part[(m, "mean")],
                error_y={"type": "data", "array": part[(m, "std")].fillna(0)},
                mode="lines+markers",
                name=name,
                legendgroup=name,
                showlegend=i == 1,
                row=1,
                col=i,
            )
            fig.update_xaxes(title_text=x, row=1, col=i)
    fig.update_layout(title=f"sweep {result.sweep_id}", height=420, width=max(500, 380 * len(metrics)))
    return fig
