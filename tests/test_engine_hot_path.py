"""The untraced hot path's shortcuts give what the plain code gave.

- ``reseed``: an agent's generator reseeded each turn is in the state ``Random.seed(str)`` leaves;
- ``LazyActionRecord``: a run that stores and traces nothing makes an action's JSON only when
  read, and it is the JSON a stored run records;
- the inline recording of an unstored run's orders: the records, deals and fines of the general path.
"""

from __future__ import annotations

import random
import sqlite3

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from protocols.actions import PlaceOrder
from protocols.verdict import Verdict
from sandbox.record import ActionRecord, LazyActionRecord
from sandbox.scenario import load_scenario
from sandbox.session import Session, reseed


def test_reseed_leaves_the_state_seed_leaves() -> None:
    for key in ("0/buyer-001/1", "12345/seller-199/20/3", "", "é/ü/∞"):
        a, b = random.Random(), random.Random()
        a.gauss(0, 1), b.gauss(0, 1)  # a pending gauss value must be dropped too
        a.seed(key)
        reseed(b, key)
        assert a.getstate() == b.getstate()
        assert [a.gauss(0, 1) for _ in range(3)] == [b.gauss(0, 1) for _ in range(3)]


def test_reseed_calls_a_subclass_own_seed() -> None:
    seen: list[object] = []

    class Mine(random.Random):
        def seed(self, a=None, version=2) -> None:  # type: ignore[override]
            seen.append(a)
            super().seed(a, version)

    reseed(Mine(), "k")
    assert seen[-1] == "k"


def test_a_lazy_record_reads_as_the_plain_record() -> None:
    order = PlaceOrder(side="buy", service="widget", price=12.5, unit=3)
    lazy = LazyActionRecord(4, "buyer-1", "place_order", order, Verdict.accept(), None)
    plain = ActionRecord(4, "buyer-1", "place_order", order.model_dump_json(exclude_none=True), Verdict.accept())
    assert lazy.payload == plain.payload and lazy == plain and plain == lazy
    assert repr(lazy).replace("LazyActionRecord", "ActionRecord") == repr(plain)
    lazy.payload = "{}"
    assert lazy.payload == "{}" and lazy != plain


def _payloads(session: Session) -> list[tuple[int, int, str, str]]:
    got: list[tuple[int, int, str, str]] = []
    session.hooks.round_end.append(
        lambda s, log: got.extend((log.round, r.seq, r.agent_id, r.payload) for r in log.records)
    )
    session.run()
    return got


def test_an_unstored_run_records_the_payloads_a_stored_run_stores(tmp_path) -> None:
    sc = load_scenario("double_auction")
    lazy_kinds: set[type] = set()
    free = Session(sc, rounds=6, tracing=False)
    free.hooks.round_end.append(lambda s, log: lazy_kinds.update(type(r) for r in log.records))
    unstored = _payloads(free)
    assert LazyActionRecord in lazy_kinds  # the shortcut was taken
    db = str(tmp_path / "r.db")
    stored = Session(sc, rounds=6, tracing=False, store=db, run_id="r")
    seen = _payloads(stored)
    rows = sqlite3.connect(db).execute("select round, seq, agent_id, payload from actions order by round, seq")
    assert unstored == seen == [tuple(r) for r in rows]


def test_rounds_play_without_collector_passes_and_cycles_are_freed_at_the_next_pass(monkeypatch) -> None:
    import gc
    import weakref

    from sandbox import gcfreeze

    monkeypatch.setattr(gcfreeze, "COLLECT_EVERY", 2)  # a pass at the start of rounds 3 and 5

    class Node:
        pass

    enabled: list[bool] = []
    cycles: list[weakref.ref[Node]] = []
    alive_at_start: list[list[bool]] = []

    def start(s: Session, log) -> None:
        enabled.append(gc.isenabled())
        alive_at_start.append([r() is not None for r in cycles])

    def end(s: Session, log) -> None:
        a = Node()
        a.me = a  # type: ignore[attr-defined]  # cyclic garbage once this hook returns
        cycles.append(weakref.ref(a))

    was = gc.isenabled()
    s = Session(load_scenario("double_auction"), rounds=5, tracing=False)
    s.hooks.round_start.append(start)
    s.hooks.round_end.append(end)
    s.run()
    assert enabled == [False] * 5 and gc.isenabled() == was
    # the cycles rounds made wait for the next pass, and are gone when it has run
    assert alive_at_start == [[], [True], [False, False], [False, False, True], [False] * 4]


def test_observations_hold_every_field_in_declaration_order(monkeypatch) -> None:
    from agents.observation import Observation
    from sandbox.observe import Observer

    seen: list[Observation] = []
    plain = Observer.observe

    def keep(self: Observer, *a, **k) -> Observation:
        obs = plain(self, *a, **k)
        seen.append(obs)
        return obs

    monkeypatch.setattr(Observer, "observe", keep)
    monkeypatch.setattr(Observer, "view", keep)  # on-demand ones: tests/test_observe_trusted.py
    monkeypatch.setattr(Observer, "trader", keep)  # instead of trader views (tests/test_trader_view.py)
    for name in ("double_auction", "services"):
        Session(load_scenario(name), rounds=3, tracing=False).run()
    assert seen
    for obs in seen:
        for model in (obs, obs.market, obs.private):
            assert list(model.__dict__) == list(type(model).model_fields)
            assert model.model_fields_set == set(type(model).model_fields)


def test_builder_makes_what_validation_makes() -> None:
    from agents.observation import Receipt
    from protocols.trusted import builder

    data = {
        "round": 3,
        "action_type": "place_order",
        "thread_id": None,
        "accepted": False,
        "rule": "funds",
        "reason": "x",
    }
    made = builder(Receipt)(dict(data))
    valid = Receipt(**data)
    assert made == valid and made.model_dump_json() == valid.model_dump_json()
    assert made.model_fields_set == valid.model_fields_set and list(made.__dict__) == list(valid.__dict__)


def test_halt_and_throttle_shortcuts_answer_as_the_full_checks() -> None:
    from protocols.limits import LimitsConfig, check_halt, check_throttle
    from protocols.verdict import Rule

    s = Session(load_scenario("double_auction"), rounds=1, tracing=False)
    s.run()
    m, who = s.market, next(iter(s.market.members))
    order = PlaceOrder(side="buy", service="widget", price=10.0, unit=0)
    cfg = LimitsConfig()
    assert m.nothing_halted() and check_halt(order, m, who, cfg) is None
    m.halted.add("service:widget")
    assert not m.nothing_halted() and check_halt(order, m, who, cfg).rule == Rule.HALTED  # type: ignore[union-attr]
    m.halted.clear()
    assert m.action_cap_of(who) is None and check_throttle(order, m, who, cfg) is None
    m.members[who].action_cap = 0
    m.invalidate_activity()
    assert m.action_cap_of(who) == 0 and check_throttle(order, m, who, cfg).rule == Rule.THROTTLED  # type: ignore[union-attr]
    assert m.action_cap_of("nobody") is None


def _everything(session: Session) -> tuple[list[object], dict[str, object], list[dict[str, object]]]:
    """Every record with its verdict, every deal and the fines of each round, then the summary and history."""
    got: list[object] = []
    session.hooks.round_end.append(
        lambda s, log: got.extend(
            [(log.round, r.seq, r.agent_id, r.action_type, r.payload, r.verdict, r.thread_id) for r in log.records]
            + [(d.tx_id, d.thread.id, d.price, d.fee, d.value, d.cost) for d in log.deals]
            + [("fines", log.fines, sorted(s._receipts))]
        )
    )
    result = session.run()
    summary = {k: v for k, v in result.summary.items() if k != "run_id"}
    return got, summary, session.history


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), fine=st.sampled_from([0.0, 1e-7, 0.25, 3.0]))
def test_the_unstored_order_path_records_what_the_general_path_records(
    tmp_path_factory, seed: int, fine: float
) -> None:
    """An unstored, untraced double auction records its orders inline (``Turns._apply_actions``); a stored
    run takes ``_record``: the records, verdicts, deals, fines (one too small to take anything too) and
    rejections are the same."""
    sc = load_scenario("double_auction").model_copy(deep=True)
    sc.seed = seed
    sc.policy = sc.policy.model_copy(update={"fines": {"improvement": fine, "capacity": fine}})
    inline = _everything(Session(sc, rounds=8, tracing=False))
    db = str(tmp_path_factory.mktemp("run") / "r.db")
    general = _everything(Session(sc, rounds=8, tracing=False, store=db))
    assert inline == general
    assert inline[1]["rejections"]  # the inline path met rejections
