"""Detector benchmark: precision and recall of the misconduct detectors on labelled scripted markets.

    .venv/bin/python benchmarks/bench_detectors.py [--only NAME] [--verbose]

Markets are the scenario templates in ``benchmarks/detector_markets/`` (each with a ``vary:``
list of parameter sets substituted for ``$names``), run with their agents
(``benchmarks/detector_agents.py`` adds the ``bench_*`` types). An agent's true label is its
``params.truth``: collusion, wash_trading or reputation_ring (none when absent). A detector's
prediction for a market is the set of agents named by its alert cases. Counted per agent and
market: a true positive is a labelled agent the detector named, a false positive an agent it
named without that label, a false negative a labelled agent it did not name. Goals: precision
>= 0.95 and recall >= 0.9 per detector.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter
from pathlib import Path
from string import Template
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import yaml  # noqa: E402

import benchmarks.detector_agents  # noqa: E402, F401  (registers the bench_* agent types)
from sandbox.scenario import parse_scenario  # noqa: E402
from sandbox.session import Session  # noqa: E402

MARKETS = Path(__file__).resolve().parent / "detector_markets"
DETECTORS = ("collusion", "wash_trading", "reputation_ring")


def markets(only: str | None = None) -> list[tuple[str, dict[str, Any]]]:
    """Every (name, scenario dict) of the templates, one per variation."""
    out = []
    for path in sorted(MARKETS.glob("*.yaml")):
        if only and only not in path.stem:
            continue
        text = path.read_text()
        for i, params in enumerate(yaml.safe_load(text)["vary"]):
            doc = yaml.safe_load(Template(text).substitute({k: str(v) for k, v in params.items()}))
            out.append((f"{path.stem}#{i + 1}", doc["scenario"]))
    return out


def run_market(scenario: dict[str, Any]) -> dict[str, Any]:
    """Run one market; its truth, what each detector named, and every alert case."""
    s = Session(parse_scenario(scenario))
    s.run()
    truth = {k: {a for a, ag in s.agents.items() if ag.params.get("truth") == k} for k in DETECTORS}
    named = {k: {a for c in s.safety.alerts.values() if c.alert.kind == k for a in c.alert.agents} for k in DETECTORS}
    kinds = {aid: _type(ag) for aid, ag in s.agents.items()}
    return {"truth": truth, "named": named, "cases": list(s.safety.alerts.values()), "types": kinds}


def _type(agent: Any) -> str:
    mode = agent.params.get("mode")
    return f"{agent.kind}/{mode}" if mode else agent.kind


def main() -> None:
    """Run the markets, print a row per market and the per-detector and per-agent-type tables."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", help="only templates whose name contains this")
    ap.add_argument("--verbose", action="store_true", help="print every alert case")
    args = ap.parse_args()
    todo = markets(args.only)
    tp: Counter[str] = Counter()
    fp: Counter[str] = Counter()
    fn: Counter[str] = Counter()
    by_type: dict[str, Counter[str]] = {}
    t0 = time.perf_counter()
    print(f"{'market':24} {'labelled':44} {'wrong (detector: agents)'}")
    for name, scenario in todo:
        r = run_market(scenario)
        wrong = []
        for k in DETECTORS:
            truth, named = r["truth"][k], r["named"][k]
            tp[k] += len(truth & named)
            fp[k] += len(named - truth)
            fn[k] += len(truth - named)
            if named - truth:
                wrong.append(f"{k} named {','.join(sorted(named - truth))}")
            if truth - named:
                wrong.append(f"{k} missed {','.join(sorted(truth - named))}")
        for aid, typ in r["types"].items():
            c = by_type.setdefault(typ, Counter())
            c["agents"] += 1
            for k in DETECTORS:
                c[f"label:{k}"] += aid in r["truth"][k]
                c[f"named:{k}"] += aid in r["named"][k]
                c["wrong"] += (aid in r["named"][k]) != (aid in r["truth"][k])
        labelled = "; ".join(f"{k} {len(v)}" for k, v in r["truth"].items() if v) or "none"
        print(f"{name:24} {labelled:44} {'; '.join(wrong) or 'ok'}")
        if args.verbose:
            for c in r["cases"]:
                print(f"    {c.id} {c.alert.kind}/{c.severity.value} x{c.count} {c.alert.agents}: {c.alert.summary}")
    secs = time.perf_counter() - t0
    print(f"\n{len(todo)} markets in {secs:.1f} s\n")
    print("| detector | labelled agents | named | true positives | precision | recall |")
    print("|---|---|---|---|---|---|")
    met = True
    for k in DETECTORS:
        prec = tp[k] / (tp[k] + fp[k]) if tp[k] + fp[k] else 1.0
        rec = tp[k] / (tp[k] + fn[k]) if tp[k] + fn[k] else 1.0
        met &= prec >= 0.95 and rec >= 0.9
        print(f"| {k} | {tp[k] + fn[k]} | {tp[k] + fp[k]} | {tp[k]} | {prec:.3f} | {rec:.3f} |")
    print("\n| agent type | agents | labelled (c/w/r) | named (c/w/r) | wrongly named or missed |")
    print("|---|---|---|---|---|")
    for typ, c in sorted(by_type.items()):
        lab = "/".join(str(c[f"label:{k}"]) for k in DETECTORS)
        nam = "/".join(str(c[f"named:{k}"]) for k in DETECTORS)
        print(f"| {typ} | {c['agents']} | {lab} | {nam} | {c['wrong']} |")
    print(f"\ngoals (precision >= 0.95, recall >= 0.9 per detector): {'met' if met else 'NOT met'}")


if __name__ == "__main__":
    main()
