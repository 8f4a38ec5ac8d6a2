"""Small scripted agents for the detector benchmark (``bench_detectors.py``): honest traders that
look suspicious and hidden misconduct. They are benchmark fixtures, registered under ``bench_*``.

Every agent may carry ``params.truth`` (collusion, wash_trading or reputation_ring): the label the
benchmark scores the detectors against. Agents here keep a little state between rounds (the
punishment clocks); they are for measuring detectors, not for replay.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from agents import register
from agents.base import Agent
from agents.observation import ListingInfo, Observation
from agents.pricers import Pricer
from protocols.actions import Accept, ActionBase, Counter, Deliver, MakeOffer, PostService, ReportOutcome
from protocols.logit import LogitDemand, best_response


def _finish(obs: Observation, quality: float, score: float | None) -> list[ActionBase]:
    """Deliver what was sold (at ``quality``); report bought deals (``score``, or honestly: what came)."""
    out: list[ActionBase] = []
    for t in obs.threads:
        if "deliver" in t.your_move:
            out.append(Deliver(thread_id=t.id, quality=quality))
        elif "report_outcome" in t.your_move:
            honest = t.quality if t.quality is not None else 1.0
            out.append(ReportOutcome(thread_id=t.id, score=honest if score is None else score))
    return out


def _list_once(obs: Observation, price: float, description: str) -> list[ActionBase]:
    service = sorted(obs.private.costs)[0]
    if obs.private.capacity <= 0 or obs.my_listings:
        return []
    return [PostService(service=service, description=description, ask_price=price, capacity=obs.private.capacity)]


class TacitSeller(Agent):
    """Holds ``price`` without a word; after a rival lists below it, sells at the rival's ask for
    ``punish`` rounds (the punishment), then goes back to ``price``."""

    kind = "bench_tacit"
    description = "Benchmark: tacit colluder that holds a price and punishes undercutting rivals for a few rounds."

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.punish_until = -1
        self.punish_price = 0.0

    def decide(self, obs: Observation) -> Sequence[ActionBase]:
        service = sorted(obs.private.costs)[0]
        price = float(self.params["price"])
        rivals = [li for li in obs.market.listings if li.service == service and li.seller != obs.agent_id]
        low = min((li.ask_price for li in rivals), default=price)
        if low < price * 0.9 and obs.round > self.punish_until:
            self.punish_until, self.punish_price = obs.round + int(self.params.get("punish", 2)), low
        now = self.punish_price if obs.round <= self.punish_until else price
        out: list[ActionBase] = _list_once(obs, price, f"{service}, reliable")
        for t in obs.threads:
            if t.role != "seller":
                continue
            if "accept" in t.your_move and t.price is not None and t.price >= now * 0.98:
                out.append(Accept(thread_id=t.id))
            elif "accept" in t.your_move:
                out.append(Counter(thread_id=t.id, price=now))
            elif "make_offer" in t.your_move:
                out.append(MakeOffer(thread_id=t.id, price=now))
        return out + _finish(obs, 1.0, None)


class Undercutter(Agent):
    """An honest seller that now and then (every ``every`` rounds) lists one unit at ``price``."""

    kind = "bench_undercutter"
    description = "Benchmark: honest seller listing one cheap unit every few rounds."

    def decide(self, obs: Observation) -> Sequence[ActionBase]:
        service = sorted(obs.private.costs)[0]
        out: list[ActionBase] = []
        if obs.round % int(self.params.get("every", 6)) == 0:
            out.append(
                PostService(service=service, description=f"{service}", ask_price=self.params["price"], capacity=1)
            )
        for t in obs.threads:
            if t.role == "seller" and "accept" in t.your_move:
                out.append(Accept(thread_id=t.id))
        return out + _finish(obs, 1.0, None)


class TaggedTrader(Agent):
    """Sells its own service at ``price`` and buys from the accounts whose listing carries its ``tag``.

    ``mode`` says what it does with them: ``barter`` (honest: buys each partner's service,
    delivers ``quality`` and rates what it received), ``wash`` (buys the same service from the
    next account round the group and rates it as delivered: money and service go round),
    ``rating`` (buys from every other account, delivers ``quality`` and rates every deal 1.0).
    """

    kind = "bench_tagged"
    description = "Benchmark: trades with tagged partners: honest barter, wash round a group, or a rating ring."

    def decide(self, obs: Observation) -> Sequence[ActionBase]:
        mode, tag = self.params.get("mode", "barter"), f"ref {self.params.get('tag', 'x')}"
        quality = float(self.params.get("quality", 0.9))
        service = sorted(obs.private.costs)[0]
        out: list[ActionBase] = _list_once(obs, float(self.params["price"]), f"{service}, {tag}")
        partners: dict[str, ListingInfo] = {li.seller: li for li in obs.market.listings if tag in li.description}
        members = sorted({*partners, obs.agent_id})
        for t in obs.threads:
            if t.role == "seller" and "accept" in t.your_move:
                out.append(Accept(thread_id=t.id))
        out += _finish(obs, quality if mode != "wash" else 1.0, 1.0 if mode == "rating" else None)
        if obs.round % int(self.params.get("every", 1)):
            return out
        busy = {t.listing_id for t in obs.threads if t.role == "buyer"}
        if mode == "wash":
            me = members.index(obs.agent_id)
            targets = [members[(me + 1) % len(members)]]
        else:
            targets = [m for m in members if m != obs.agent_id]
        for m in targets:
            li = partners.get(m)
            if li is not None and li.id not in busy and li.ask_price <= obs.balance:
                out.append(MakeOffer(listing_id=li.id, price=li.ask_price))
        return out


class CarrotStick(Pricer):
    """Bertrand firm: the monopoly price; after a rival priced below it, its Nash price for ``punish``
    rounds, then back to monopoly. With ``cheat_every``, it undercuts (best response to monopoly)
    once every so many rounds: a cartel member that cheats now and then."""

    kind = "bench_carrot_stick"
    description = "Benchmark: Bertrand firm holding monopoly, punishing undercuts for a few rounds, maybe cheating."

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.punish_until = -1

    def price(self, obs: Observation, board: dict[str, Any], me: int) -> float:
        mono, nash = float(board["monopoly_prices"][me]), float(board["nash_prices"][me])
        firms, posted = board["firms"], board.get("posted_prices", {})
        rivals = [(i, posted[f]) for i, f in enumerate(firms) if i != me and f in posted]
        # a cheat lies between the rival's Nash and monopoly prices; a rival at its Nash price is punishing
        cheats = [
            p
            for i, p in rivals
            if 1.02 * float(board["nash_prices"][i]) < p < 0.98 * float(board["monopoly_prices"][i])
        ]
        if cheats and obs.round > self.punish_until:
            self.punish_until = obs.round + int(self.params.get("punish", 2)) - 1
        if obs.round <= self.punish_until:
            return nash
        every = int(self.params.get("cheat_every", 0))
        if every and obs.round % every == 0:
            d = board["demand"]
            model = LogitDemand(tuple(d["a"]), tuple(d["c"]), d["a0"], d["mu"])
            return best_response(model, list(board["monopoly_prices"]), me)
        return mono


BENCH_AGENTS: tuple[type[Agent], ...] = (TacitSeller, Undercutter, TaggedTrader, CarrotStick)
for _cls in BENCH_AGENTS:
    register(_cls)
