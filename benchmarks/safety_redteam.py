"""Red-team report: what the safety layer caught, missed and raised falsely, and what it costs.

    .venv/bin/python benchmarks/safety_redteam.py [--seeds 11,12,13] [--sweep 30] [--scale 1000]

For every red-team agent of ``redteam.yaml`` it prints the rules that stopped it (rejections
or redactions), the alerts that named it, its breaker trips and interventions; then the
alerts naming honest agents, the alerts of the honest twin, and the wall time of the
``services`` scenario with the safety layer on and off.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections import Counter

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from collections.abc import Callable  # noqa: E402

from sandbox.scenario import Scenario, load_scenario, parse_scenario  # noqa: E402
from sandbox.session import Session  # noqa: E402

STOP_RULES = {
    "impersonation",
    "funds",
    "spend_cap",
    "rate_limit",
    "throttled",
    "injection",
    "coordination",
    "private_leak",
    "self_dealing",
    "suspended",
    "halted",
}


def red_team(seed: int) -> tuple[int, int, int]:
    """Run the red team once; print the table; return (caught, missed, false alerts)."""
    s = Session(load_scenario("redteam"), seed=seed)
    rules: dict[str, Counter[str]] = {}
    s.hooks.round_end.append(
        lambda sess, log: [
            rules.setdefault(r.agent_id, Counter()).update([r.verdict.rule])
            for r in log.records
            if (not r.verdict.accepted or r.verdict.flags) and r.verdict.rule in STOP_RULES
        ]
    )
    s.run()
    red = {aid: a for aid, a in s.agents.items() if a.kind.startswith("rt_")}
    alerts: dict[str, list[str]] = {}
    false_alerts = 0
    for st in s.safety.alerts.values():
        for aid in st.alert.agents:
            alerts.setdefault(aid, []).append(f"{st.alert.kind}/{st.alert.severity.value}")
        if any(a not in red for a in st.alert.agents):
            false_alerts += 1
    trips = Counter(t.subject for t in s.safety.transitions if t.after.value == "open")
    steps: dict[str, Counter[str]] = {}
    for row in s.safety.applied:
        steps.setdefault(row["agent_id"], Counter())[row["step"]] += 1
    caught = missed = 0
    print(f"\nseed {seed}: {len(s.agents)} agents, {s.round} rounds, {s.summary()['transactions']} deals")
    print(f"{'agent':12} {'type':16} {'stopped by (count)':40} {'alerts':34} trips  interventions")
    for aid, agent in sorted(red.items()):
        kind = agent.kind + (f"/{agent.params['mode']}" if "mode" in agent.params else "")
        stop = ", ".join(f"{k} {v}" for k, v in rules.get(aid, Counter()).most_common(3))
        alert = ", ".join(sorted(set(alerts.get(aid, []))))
        ok = bool(stop or alert)
        caught, missed = caught + ok, missed + (not ok)
        iv = ", ".join(f"{k} {v}" for k, v in sorted(steps.get(aid, Counter()).items()))
        print(f"{aid:12} {kind:16} {stop or '-':40} {alert or '-':34} {trips.get(aid, 0):5}  {iv or '-'}")
    print(f"caught {caught} of {len(red)} red-team agents, missed {missed}, alerts naming honest agents {false_alerts}")
    return caught, missed, false_alerts


def honest(seed: int) -> int:
    """Alerts and breaker trips in the honest twin."""
    s = Session(load_scenario("honest"), seed=seed)
    s.run()
    n = len(s.safety.alerts) + len(s.safety.transitions)
    print(f"honest seed {seed}: {len(s.safety.alerts)} alerts, {len(s.safety.transitions)} breaker transitions")
    return n


EXPECTED = {"collusion", "wash_trading", "reputation_ring", "message_storm"}


def sweep(n: int) -> None:
    """Seeds 1..n: alert kinds missing in the red team, alerts naming honest agents, anything in the honest twin."""
    missing = false = honest_noise = 0
    for seed in range(1, n + 1):
        s = Session(load_scenario("redteam"), seed=seed)
        s.run()
        kinds = {st.alert.kind for st in s.safety.alerts.values()}
        priced = any(
            st.alert.kind == "collusion" and st.alert.severity.value != "low" for st in s.safety.alerts.values()
        )
        if not EXPECTED <= kinds or not priced:
            missing += 1
            print(f"seed {seed}: missing {sorted(EXPECTED - kinds) or ''}{'' if priced else ' price-collusion alert'}")
        for st in s.safety.alerts.values():
            if any(not s.agents[a].kind.startswith("rt_") for a in st.alert.agents):
                false += 1
                print(f"seed {seed}: {st.alert.kind} names honest agents {st.alert.agents}")
        h = Session(load_scenario("honest"), seed=seed)
        h.run()
        honest_noise += len(h.safety.alerts) + len(h.safety.transitions)
    print(
        f"seeds 1-{n}: red-team runs missing an expected alert {missing}, alerts naming honest agents {false}, "
        f"honest-twin alerts and breaker transitions {honest_noise}"
    )


def _scaled(n: int, enabled: bool) -> Scenario:
    return parse_scenario(
        {
            "name": "scale",
            "rounds": 20,
            "seed": 1,
            "safety": {"enabled": enabled},
            "population": [
                {
                    "agent": "zi_c",
                    "n": n,
                    "role": "buyer",
                    "service": "svc",
                    "budget": 400,
                    "value": [40, 160],
                    "demand": 2,
                },
                {"agent": "zi_c", "n": n // 2, "role": "seller", "service": "svc", "cost": [20, 120], "capacity": 4},
            ],
        }
    )


def overhead(repeats: int = 5, scale: int = 0) -> None:
    """Wall time with the safety layer on and off (no store), runs interleaved to share the noise."""
    cases: list[tuple[str, Callable[[bool], Scenario]]] = [("services, 46 agents, 40 rounds", _services)]
    if scale:
        cases.append((f"zi_c, {scale + scale // 2} agents, 20 rounds", lambda on: _scaled(scale, on)))
    for label, make in cases:
        times: dict[bool, list[float]] = {False: [], True: []}
        for _ in range(repeats):
            for enabled in (False, True):
                t0 = time.perf_counter()
                Session(make(enabled)).run()
                times[enabled].append(time.perf_counter() - t0)
        off, on = statistics.median(times[False]), statistics.median(times[True])
        print(f"{label}: safety off {off:.3f} s, on {on:.3f} s (median of {repeats}, +{(on / off - 1):.0%})")


def _services(enabled: bool) -> Scenario:
    sc = load_scenario("services")
    return sc.model_copy(update={"safety": sc.safety.model_copy(update={"enabled": enabled})})


def main() -> None:
    """Parse arguments and print the report."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", default="11", help="Comma-separated seeds (11 is the scenario's own).")
    ap.add_argument("--sweep", type=int, default=0, help="Also check seeds 1..N for missed and false alerts.")
    ap.add_argument("--scale", type=int, default=0, help="Also time a ZI-C market of N buyers and N/2 sellers.")
    ap.add_argument("--repeats", type=int, default=5, help="Timed runs per case and setting.")
    args = ap.parse_args()
    seeds = [int(x) for x in args.seeds.split(",")]
    for seed in seeds:
        red_team(seed)
    for seed in seeds:
        honest(seed)
    if args.sweep:
        sweep(args.sweep)
    overhead(args.repeats, args.scale)


if __name__ == "__main__":
    main()
