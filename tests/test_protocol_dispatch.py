"""``Protocol.submit`` runs only the checks that can apply to an action's kind (``APPLIES``).

Every action of every built-in scenario (the red team's included) gets the same verdict, rule
and reason as running all the checks would give; so do hand-made odd actions.
"""

from __future__ import annotations

from typing import Any

import pytest

from protocols.actions import ActionBase, MakeOffer, Message, PlaceOrder
from protocols.protocol import Protocol
from sandbox.scenario import builtin_names, load_scenario
from sandbox.session import Session


@pytest.mark.parametrize("name", builtin_names())
def test_dispatched_verdicts_equal_running_every_check(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    compared: list[str] = []
    plain = Protocol.submit

    def both(self: Protocol, action: ActionBase, view: Any, who: str) -> Any:
        fast = plain(self, action, view, who)
        assert fast == self.submit_all(action, view, who), (action, who)
        compared.append(action.type)  # type: ignore[attr-defined]
        return fast

    monkeypatch.setattr(Protocol, "submit", both)
    sc = load_scenario(name)
    Session(sc, rounds=min(sc.rounds, 12), tracing=False).run()
    assert compared


def test_odd_actions_run_every_check() -> None:
    s = Session(load_scenario("services"), rounds=2, tracing=False)
    s.run()
    p, who = s.protocol, next(iter(s.market.members))

    class Disguised(ActionBase):
        type: str = "place_order"  # a type value that belongs to another class

    class Renamed(MakeOffer):
        pass

    odd = [
        Disguised(),
        Renamed(price=5.0, listing_id="nope"),
        MakeOffer(price=float("nan"), listing_id="nope"),
        PlaceOrder(side="buy", service="x", price=1.0),
        Message(text="hi", to="nobody"),
        MakeOffer.model_construct(price=5.0, listing_id=None, thread_id=None, type=3),
    ]
    for action in odd:
        assert p.submit(action, s.market, who) == p.submit_all(action, s.market, who)
    assert len(p.plan(Disguised())) < len(p.checks)
    assert p.plan(MakeOffer.model_construct(price=5.0, type=3)) == p.checks  # an odd type value runs everything
