"""Response curves of the incentive levers: what agents do as each lever moves, against theory.

    python benchmarks/bench_incentives.py [--svg docs/incentives_plot.svg] [--seeds 2]

Prints one table per lever (measured response and, where theory gives one, the predicted
response) and writes the curves as a static SVG (no browser or plotting library needed).
The markets and the theory are those of ``sandbox.responses``; docs/incentives.md reads them.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from agents.incentives import Terms
from agents.responders import best_quality
from sandbox.responses import (
    competitive_quantity,
    da_schedules,
    effort_market,
    mean_period_trades,
    opportunist_violation_rate,
    run,
)

Curve = tuple[str, str, str, list[float], list[float], list[float] | None]  # title, x, y, xs, measured, theory


def curves(seeds: int) -> list[Curve]:
    """Measure every lever's response curve."""
    ss = list(range(seeds))
    values, costs = da_schedules()
    out: list[Curve] = []

    fees = [0.0, 0.1, 0.2, 0.3, 0.4]
    out.append(
        (
            "fee rate -> units traded per period (ZI-C double auction)",
            "fee_rate",
            "units / period",
            fees,
            [mean_period_trades({"fee_rate": f}, ss) for f in fees],
            [float(competitive_quantity(values, [c / (1 - f) for c in costs])) for f in fees],
        )
    )
    subsidies = [0.0, 8.0, 16.0, 24.0, 32.0]
    out.append(
        (
            "subsidy -> units traded per period (fee 0.2)",
            "subsidy",
            "units / period",
            subsidies,
            [mean_period_trades({"fee_rate": 0.2, "subsidy": s}, ss) for s in subsidies],
            [float(competitive_quantity(values, [(c - s) / 0.8 for c in costs])) for s in subsidies],
        )
    )
    services = [run("services", {"fee_rate": f}, range(max(seeds, 4)), rounds=40) for f in fees]
    out.append(
        (
            "fee rate -> trades (services market, 40 rounds)",
            "fee_rate",
            "transactions",
            fees,
            [s["transactions"] for s in services],
            None,
        )
    )
    out.append(
        ("fee rate -> volume (services market)", "fee_rate", "volume", fees, [s["volume"] for s in services], None)
    )
    fines = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    out.append(
        (
            "funds fine -> opportunists' violation rate",
            "fines.funds",
            "violations / temptation",
            fines,
            [opportunist_violation_rate(f, range(max(seeds, 8)))[0] for f in fines],
            [max(0.0, 1 - f / 5.0) for f in fines],
        )
    )
    rewards = [0.0, 5.0, 10.0, 20.0, 30.0, 40.0]
    out.append(
        (
            "outcome reward -> delivered quality (effort cost 20 q^2)",
            "outcome_reward",
            "mean outcome",
            rewards,
            [effort_market({"outcome_reward": r}, ss)[1] for r in rewards],
            [best_quality(Terms.of({"outcome_reward": r}), 45.0, 20.0, 0.0) for r in rewards],
        )
    )
    weights = [0.0, 0.5, 1.0, 2.0, 3.0]
    measured_w = [effort_market({"reputation": {"weight": w, "alpha": 0.2}}, ss) for w in weights]
    out.append(
        (
            "reputation weight -> delivered quality",
            "reputation.weight",
            "mean outcome",
            weights,
            [m[1] for m in measured_w],
            [sum(m[0]) / len(m[0]) for m in measured_w],  # the qualities chosen: the outcomes' expectation
        )
    )
    return out


def svg(data: list[Curve], path: Path) -> None:
    """Small multiples: measured (solid, dots) and theory (dashed) against the lever."""
    cols, pw, ph, left, top, gap = 4, 250, 150, 50, 40, 70
    rows = (len(data) + cols - 1) // cols
    width, height = left + cols * (pw + gap), top + rows * (ph + gap) + 20
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="10">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="{left}" y="16" font-size="12">Agora: measured response (solid) and theory (dashed) per lever</text>',
    ]
    for i, (title, xname, yname, xs, ys, theory) in enumerate(data):
        x0, y0 = left + (i % cols) * (pw + gap), top + (i // cols) * (ph + gap)
        lo = min(0.0, *ys, *(theory or []))
        hi = max(*ys, *(theory or [])) * 1.1 or 1.0
        out.append(f'<rect x="{x0}" y="{y0}" width="{pw}" height="{ph}" fill="none" stroke="#999"/>')
        out.append(f'<text x="{x0}" y="{y0 - 6}" font-size="10">{title}</text>')
        out.append(f'<text x="{x0 + pw}" y="{y0 + ph + 24}" text-anchor="end">{xname}</text>')
        out.append(f'<text x="{x0 - 4}" y="{y0 + 8}" text-anchor="end">{hi:.3g}</text>')
        out.append(f'<text x="{x0 - 4}" y="{y0 + ph}" text-anchor="end">{lo:.3g}</text>')
        out.append(f'<text x="{x0 + 4}" y="{y0 + 12}" fill="#555">{yname}</text>')

        def pt(x: float, y: float, x0: int = x0, y0: int = y0, lo: float = lo, hi: float = hi, xs: list = xs) -> str:
            fx = (x - xs[0]) / ((xs[-1] - xs[0]) or 1)
            return f"{x0 + fx * pw:.1f},{y0 + ph - (y - lo) / ((hi - lo) or 1) * ph:.1f}"

        for x in (xs[0], xs[-1]):
            out.append(f'<text x="{pt(x, lo).split(",")[0]}" y="{y0 + ph + 12}" text-anchor="middle">{x:g}</text>')
        if theory:
            pts = " ".join(pt(x, y) for x, y in zip(xs, theory, strict=True))
            out.append(f'<polyline points="{pts}" fill="none" stroke="#d62728" stroke-dasharray="4 3"/>')
        pts = " ".join(pt(x, y) for x, y in zip(xs, ys, strict=True))
        out.append(f'<polyline points="{pts}" fill="none" stroke="#1f77b4" stroke-width="1.5"/>')
        for x, y in zip(xs, ys, strict=True):
            cx, cy = pt(x, y).split(",")
            out.append(f'<circle cx="{cx}" cy="{cy}" r="2.5" fill="#1f77b4"/>')
    out.append("</svg>")
    path.write_text("\n".join(out) + "\n")


def main() -> None:
    """Measure, print and plot."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--svg", default="docs/incentives_plot.svg", help="where to write the plot")
    ap.add_argument("--seeds", type=int, default=2, help="seeds per point (fines use at least 8, services 4)")
    args = ap.parse_args()
    t0 = time.perf_counter()
    data = curves(args.seeds)
    for title, xname, yname, xs, ys, theory in data:
        print(f"\n{title}")
        print(f"  {xname:>18}  {yname:>24}  {'theory' if theory else '':>8}")
        for j, (x, y) in enumerate(zip(xs, ys, strict=True)):
            th = f"{theory[j]:8.3f}" if theory else ""
            print(f"  {x:>18g}  {y:>24.3f}  {th}")
    svg(data, Path(args.svg))
    print(f"\n{time.perf_counter() - t0:.1f} s; plot written to {args.svg}")


if __name__ == "__main__":
    main()
