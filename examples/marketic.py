"""Markets of simple programs: bucket brigade, Vickrey and the Cloned Vickrey Society, side by side.

Runs every payment rule (and a few variants that show where each one breaks) on the three
marketic tasks for several seeds, prints a table of what each reaches and writes a plotly
HTML plot of the society's greedy return and of its bid error per episode.

    .venv/bin/python examples/marketic.py                 # 5 seeds, 300 episodes
    .venv/bin/python examples/marketic.py --seeds 2 --db marketic.db   # also record every run
    .venv/bin/python examples/marketic.py --llm 80     # also: LLM-agent bidders on the stand-in
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import plotly.graph_objects as go
from plotly.subplots import make_subplots
from rich.console import Console
from rich.table import Table

from sandbox.marketic.record import run_marketic
from sandbox.marketic.run import MarketicConfig, MarketicResult
from traces.store import Store

TASKS = ("chain", "lure", "grid")
DOCS = Path(__file__).resolve().parent.parent / "docs"  # the plots' default folder, wherever this is run from
# (label, config overrides): the three rules with two clones, then variants that break them.
VARIANTS = (
    ("bucket brigade", {"rule": "bucket_brigade"}),
    ("Vickrey", {"rule": "vickrey"}),
    ("CCV (cloned Vickrey society)", {"rule": "ccv"}),
    ("CCV, one copy (no clones)", {"rule": "ccv", "clones": 1}),
    ("CCV, clones learn apart", {"rule": "ccv", "shared": False}),
    ("bucket brigade, poor (endowment 2)", {"rule": "bucket_brigade", "endowment": 2.0}),
    ("CCV, poor (endowment 2)", {"rule": "ccv", "endowment": 2.0}),
)


def run_all(seeds: int, episodes: int, store: Store | None) -> dict[tuple[str, str], list[MarketicResult]]:
    """Every (task, variant) over ``seeds`` seeds."""
    out = {}
    for task in TASKS:
        for label, over in VARIANTS:
            cfgs = [MarketicConfig(task=task, episodes=episodes, seed=s, **over) for s in range(seeds)]
            out[(task, label)] = [run_marketic(c, store) for c in cfgs]
    return out


def row(results: list[MarketicResult]) -> list[str]:
    """Table cells for one (task, variant)."""
    solved = [r.first_optimal_episode() for r in results if r.reached_optimum()]
    last = [r.last for r in results]
    richest = [max(m["wealth"].values()) / max(sum(m["wealth"].values()), 1e-9) for m in last]
    return [
        f"{len(solved)}/{len(results)}",
        f"{statistics.median(solved):.0f}" if solved else "-",
        f"{statistics.mean(m['greedy_return'] for m in last):.3f} / {last[0]['optimal_return']:.3f}",
        f"{statistics.mean(m['policy_accuracy'] for m in last):.0%}",
        f"{statistics.mean(m['value_error'] for m in last):.3f}",
        f"{statistics.mean(m['flows'].get('subsidy', 0.0) for m in last):.1f}",
        f"{statistics.mean(m['broke'] for m in last):.1f}",
        f"{statistics.mean(richest):.0%}",
    ]


def table(runs: dict[tuple[str, str], list[MarketicResult]], seeds: int, episodes: int) -> Table:
    """The summary table the docs quote."""
    t = Table(title=f"marketic societies: {seeds} seeds x {episodes} episodes (values at the last episode)")
    heads = (
        "task",
        "rule",
        "optimal",
        "from episode (median)",
        "greedy return / V*",
        "states right",
        "|bid - V*|",
        "subsidy",
        "broke",
        "richest share",
    )
    for h in heads:
        t.add_column(h, justify="left" if h in ("task", "rule") else "right")
    for (task, label), results in runs.items():
        t.add_row(task, label, *row(results))
    return t


SMOOTH = 10  # episodes in the trailing moving average of the plotted curves


def curve(results: list[MarketicResult], key: str) -> list[float]:
    """``key`` per episode, averaged over seeds, then over a trailing window of ``SMOOTH`` episodes."""
    n = len(results[0].history)
    mean = [statistics.mean(r.history[i][key] for r in results) for i in range(n)]
    return [statistics.mean(mean[max(0, i - SMOOTH + 1) : i + 1]) for i in range(n)]


def plot(runs: dict[tuple[str, str], list[MarketicResult]], path: Path) -> None:
    """Greedy return and mean |top bid - V*| per episode (``curve``), one column per task."""
    fig = make_subplots(rows=2, cols=len(TASKS), subplot_titles=TASKS, shared_xaxes=True, vertical_spacing=0.08)
    colours = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2")
    for col, task in enumerate(TASKS, start=1):
        for (label, _), colour in zip(VARIANTS, colours, strict=True):
            results = runs[(task, label)]
            n = len(results[0].history)
            ep = list(range(1, n + 1))
            g, v = curve(results, "greedy_return"), curve(results, "value_error")
            kw = {"legendgroup": label, "line": {"color": colour, "width": 1.5}}
            fig.add_trace(go.Scatter(x=ep, y=g, name=label, showlegend=col == 1, **kw), row=1, col=col)
            fig.add_trace(go.Scatter(x=ep, y=v, name=label, showlegend=False, **kw), row=2, col=col)
        opt = runs[(task, VARIANTS[0][0])][0].history[0]["optimal_return"]
        fig.add_hline(y=opt, line_dash="dash", line_color="black", row=1, col=col)
    fig.update_yaxes(title_text="greedy return (dashed: optimum)", row=1, col=1)
    fig.update_yaxes(title_text="mean |top bid - V*|", row=2, col=1)
    fig.update_xaxes(title_text="episode", row=2)
    fig.update_layout(height=750, width=1300, title="Markets of simple programs: what each payment rule reaches")
    fig.write_html(path, include_plotlyjs="cdn")


def svg(runs: dict[tuple[str, str], list[MarketicResult]], path: Path) -> None:
    """The same two rows of panels as a static SVG (plotly cannot write images here without Chrome)."""
    colours = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2")
    pw, ph, left, top, gap = 360, 190, 60, 40, 50
    width, height = left + len(TASKS) * (pw + gap), top + 2 * (ph + gap) + 30 + 18 * len(VARIANTS)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="11">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
    ]
    rows = (
        ("greedy_return", "greedy return (dashed: optimum)", -0.1, 1.0),
        ("value_error", "mean |top bid - V*|", 0.0, 0.8),
    )
    for c, task in enumerate(TASKS):
        for r, (key, ylabel, lo, hi) in enumerate(rows):
            x0, y0 = left + c * (pw + gap), top + r * (ph + gap)
            out.append(f'<rect x="{x0}" y="{y0}" width="{pw}" height="{ph}" fill="none" stroke="#999"/>')
            if r == 0:
                out.append(f'<text x="{x0 + pw / 2}" y="{y0 - 8}" text-anchor="middle" font-size="13">{task}</text>')
            if c == 0:
                out.append(
                    f'<text x="12" y="{y0 + ph / 2}" transform="rotate(-90 12 {y0 + ph / 2})" text-anchor="middle">{ylabel}</text>'
                )
            for v in (lo, (lo + hi) / 2, hi):
                y = y0 + ph - (v - lo) / (hi - lo) * ph
                out.append(f'<text x="{x0 - 4}" y="{y + 4}" text-anchor="end">{v:.2f}</text>')
            n = len(runs[(task, VARIANTS[0][0])][0].history)
            out.append(f'<text x="{x0 + pw}" y="{y0 + ph + 14}" text-anchor="end">episode {n}</text>')

            def xy(i: int, v: float, x0: int = x0, y0: int = y0, n: int = n, lo: float = lo, hi: float = hi) -> str:
                v = min(max(v, lo), hi)
                return f"{x0 + i / max(n - 1, 1) * pw:.1f},{y0 + ph - (v - lo) / (hi - lo) * ph:.1f}"

            if r == 0:
                opt = runs[(task, VARIANTS[0][0])][0].history[0]["optimal_return"]
                out.append(
                    f'<polyline points="{xy(0, opt)} {xy(n - 1, opt)}" stroke="black" stroke-dasharray="4 3" fill="none"/>'
                )
            for (label, _), colour in zip(VARIANTS, colours, strict=True):
                pts = " ".join(xy(i, v) for i, v in enumerate(curve(runs[(task, label)], key)))
                out.append(
                    f'<polyline points="{pts}" stroke="{colour}" stroke-width="1.3" fill="none" opacity="0.85"/>'
                )
    ly = top + 2 * (ph + gap) + 10
    for k, ((label, _), colour) in enumerate(zip(VARIANTS, colours, strict=True)):
        y = ly + 18 * k
        out.append(f'<line x1="{left}" y1="{y}" x2="{left + 30}" y2="{y}" stroke="{colour}" stroke-width="3"/>')
        out.append(
            f'<text x="{left + 38}" y="{y + 4}">{label} (mean over seeds, {SMOOTH}-episode moving average)</text>'
        )
    out.append("</svg>")
    path.write_text("\n".join(out))


def llm_table(episodes: int) -> Table:
    """The lure with every primitive backed by an LLM agent on the stand-in: truthful vs shading bidders."""
    t = Table(title=f"lure, primitives backed by the LLM agent on the stand-in (seed 0, {episodes} episodes)")
    for h in (
        "rule",
        "stand-in bidder",
        "optimal from episode",
        "policy in cell 0",
        "top bids by cell (V*: .729 .81 .9 1)",
        "LLM turns",
    ):
        t.add_column(h)
    for rule in ("bucket_brigade", "ccv"):
        for bidder in ("marketic_truthful", "marketic_shading"):
            r = run_marketic(MarketicConfig(task="lure", rule=rule, episodes=episodes, bidder=f"scripted/{bidder}"))
            first = r.first_optimal_episode() if r.reached_optimum() else None
            assert r.society.llm is not None
            bids = " ".join(f"{v:.3f}" for v in r.last["top_bids"].values())
            t.add_row(
                rule,
                bidder,
                "never" if first is None else str(first),
                r.last["policy"]["0"],
                bids,
                str(sum(r.society.llm.outcomes.values())),
            )
    return t


def main() -> None:
    """Parse arguments, run, print the table, write the plot."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--episodes", type=int, default=300)
    ap.add_argument("--db", default=None, help="record every run in this store (file path or URL)")
    ap.add_argument("--html", default=str(DOCS / "marketic_plot.html"), help="where to write the interactive plot")
    ap.add_argument("--svg", default=str(DOCS / "marketic_plot.svg"), help="where to write the static plot")
    ap.add_argument(
        "--llm",
        type=int,
        default=0,
        metavar="EPISODES",
        help="also run the lure with LLM-agent bidders on the stand-in for this many episodes",
    )
    args = ap.parse_args()
    t0 = time.perf_counter()
    runs = run_all(args.seeds, args.episodes, Store(args.db) if args.db else None)
    console = Console(width=200)
    console.print(table(runs, args.seeds, args.episodes))
    plot(runs, Path(args.html))
    svg(runs, Path(args.svg))
    console.print(
        f"{len(runs) * args.seeds} runs in {time.perf_counter() - t0:.1f} s; plots written to {args.html}, {args.svg}"
    )
    if args.llm:
        t1 = time.perf_counter()
        console.print(llm_table(args.llm))
        console.print(f"LLM-agent runs in {time.perf_counter() - t1:.1f} s")


if __name__ == "__main__":
    main()
