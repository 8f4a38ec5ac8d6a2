"""The observation as an LLM agent's prompt carries it: compact rows, and only what changed or is needed to act.

``encode`` turns an ``Observation`` into a small JSON object whose lists are rows (arrays in a
fixed column order that the system prompt states once) instead of objects with repeated keys.
It leaves out what the agent has seen and cannot act on: threads that wait on the other side
and did not change are listed by id only; a listing's description is quoted the first time the
agent sees that listing (every turn where the mechanism's record says the texts are the goods);
recent prices are shown when they moved; an agent that wants no units beyond those it is
already negotiating sees only the first few competing listings. ``Seen`` remembers, per agent,
what the last turn showed; it is bounded, so the prompt never grows with the population or
the rounds.

``decode`` is the inverse the offline stand-in model uses: it rebuilds an ``Observation`` with
everything an agent needs to act, from the constants in the system prompt and the rows.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from agents.observation import InboxMessage, ListingInfo, MarketInfo, Observation, Private, Receipt, ThreadInfo
from protocols.mechanism_table import rules_of

REASON_CHARS = 200
NOTICE_CHARS = 400
CONTEXT_LISTINGS = 3  # competing listings shown to an agent that is not buying
RECENT_PRICES = 4
DESCRIBED_MEMORY = 256  # listing ids whose description an agent was shown, most recent kept

LEGEND = (
    "Keys: r round, left rounds left, bal balance, me private data, rep reputation, px recent prices, news, board. "
    "Rows: ls listings [id,seller,service,ask,units,rep,text]; mine [id,service,ask,units]; th threads for you "
    "[id,listing,service,side,counterparty,state,price,by_you,moves,quality]; wait other threads "
    "[id,listing,side]; in messages [round,sender,thread,text]; res last actions [action,thread,ok|rule,reason]."
)
"""The column order of every row, stated once in the system prompt."""


@dataclass
class Seen:
    """What an agent's last prompt showed: the base of the next prompt's delta (bounded)."""

    round: int | None = None
    threads: dict[str, tuple[str, float | None]] = field(default_factory=dict)
    described: OrderedDict[str, None] = field(default_factory=OrderedDict)
    prices: dict[str, tuple[float, ...]] = field(default_factory=dict)


def constants(obs: Observation) -> dict[str, Any]:
    """What stays the same across an agent's turns: identity, mechanism, price band, incentives."""
    return {
        "agent_id": obs.agent_id,
        "role": obs.role,
        "mechanism": obs.market.mechanism,
        "min_price": obs.market.min_price,
        "max_price": obs.market.max_price,
        "incentives": obs.incentives,
    }


def _buying(obs: Observation) -> bool:
    """Whether the agent may want a new listing: units wanted beyond the threads it already buys in."""
    return bool(obs.private.values) and obs.private.demand > sum(1 for t in obs.threads if t.role == "buyer")


def encode(obs: Observation, seen: Seen) -> tuple[dict[str, Any], list[tuple[str, str, str]]]:
    """The compact state of this turn and the untrusted texts it refers to; updates ``seen``."""
    quoted: list[tuple[str, str, str]] = []

    def ref(sender: str, text: str) -> str:
        if not text:
            return ""
        quoted.append((f"U{len(quoted) + 1}", sender, text))
        return quoted[-1][0]

    out: dict[str, Any] = {"r": obs.round, "left": obs.rounds_left, "bal": round(obs.balance, 2)}
    out["me"] = obs.private.model_dump(mode="json", exclude_defaults=True)
    if obs.reputation is not None:
        out["rep"] = round(obs.reputation, 3)
    listings = obs.market.listings if _buying(obs) else obs.market.listings[:CONTEXT_LISTINGS]
    rules = rules_of(obs.market.mechanism)
    every_turn = rules is not None and rules.texts_every_turn
    rows = []
    for li in listings:
        text = ""
        if every_turn or li.id not in seen.described:
            text = ref(li.seller, li.description)
            seen.described[li.id] = None
            if len(seen.described) > DESCRIBED_MEMORY:
                seen.described.popitem(last=False)
        rep = None if li.reputation is None else round(li.reputation, 3)
        rows.append([li.id, li.seller, li.service, li.ask_price, li.remaining, rep, text])
    if rows:
        out["ls"] = rows
    if obs.my_listings:
        out["mine"] = [[li.id, li.service, li.ask_price, li.remaining] for li in obs.my_listings]
    threads: list[list[Any]] = []
    waiting: list[list[Any]] = []
    for t in obs.threads:
        key = (t.state, t.price)
        if t.your_move or seen.threads.get(t.id) != key:
            threads.append(
                [t.id, t.listing_id, t.service, t.role, t.counterparty, t.state, t.price, t.offered_by_you]
                + [t.your_move, t.quality]
            )
        else:
            waiting.append([t.id, t.listing_id, t.role])
    seen.threads = {t.id: (t.state, t.price) for t in obs.threads}
    if threads:
        out["th"] = threads
    if waiting:
        out["wait"] = waiting
    if obs.inbox:
        out["in"] = [[m.round, m.sender, m.thread_id, ref(m.sender, m.text)] for m in obs.inbox]
    if obs.receipts:
        out["res"] = [
            [r.action_type, r.thread_id, "ok"]
            if r.accepted
            else [r.action_type, r.thread_id, r.rule, r.reason[:REASON_CHARS]]
            for r in obs.receipts
        ]
    if obs.notices:
        out["news"] = [n[:NOTICE_CHARS] for n in obs.notices]
    mine = set(obs.private.values) | set(obs.private.costs)
    moved = {}
    for svc, prices in obs.market.recent_prices.items():
        last = tuple(prices[-RECENT_PRICES:])
        if svc in mine and last and seen.prices.get(svc) != last:
            moved[svc] = list(last)
            seen.prices[svc] = last
    if moved:
        out["px"] = moved
    if obs.market.board:
        out["board"] = obs.market.board
    seen.round = obs.round
    return out, quoted


def decode(state: dict[str, Any], const: dict[str, Any], texts: dict[str, str]) -> Observation:
    """An ``Observation`` with what ``encode`` kept: enough for a scripted strategy to act on."""
    me, r = const["agent_id"], int(state.get("r", 0))
    threads = [
        ThreadInfo(
            id=t[0],
            listing_id=t[1],
            service=t[2],
            role=t[3],
            counterparty=t[4],
            state=t[5],
            price=t[6],
            offered_by_you=t[7],
            your_move=t[8],
            quality=t[9],
        )
        for t in state.get("th", [])
    ]
    threads += [
        ThreadInfo(id=t[0], listing_id=t[1], service="", role=t[2], counterparty="", state="waiting")
        for t in state.get("wait", [])
    ]
    listings = [
        ListingInfo(
            id=x[0],
            seller=x[1],
            service=x[2],
            ask_price=x[3],
            remaining=x[4],
            reputation=x[5],
            description=texts.get(x[6], ""),
        )
        for x in state.get("ls", [])
    ]
    receipts = [
        Receipt(
            round=r - 1,
            action_type=x[0],
            thread_id=x[1],
            accepted=x[2] == "ok",
            rule=x[2],
            reason=x[3] if len(x) > 3 else "",
        )
        for x in state.get("res", [])
    ]
    return Observation(
        agent_id=me,
        role=const["role"],
        round=r,
        rounds_left=int(state.get("left", 0)),
        balance=float(state.get("bal", 0.0)),
        private=Private(**state.get("me", {})),
        my_listings=[
            ListingInfo(id=x[0], seller=me, service=x[1], ask_price=x[2], remaining=x[3]) for x in state.get("mine", [])
        ],
        threads=threads,
        inbox=[
            InboxMessage(round=m[0], sender=m[1], thread_id=m[2], text=texts.get(m[3], "")) for m in state.get("in", [])
        ],
        receipts=receipts,
        market=MarketInfo(
            listings=listings,
            recent_prices=state.get("px", {}),
            min_price=const["min_price"],
            max_price=const["max_price"],
            mechanism=const["mechanism"],
            board=state.get("board", {}),
        ),
        incentives=const.get("incentives", {}),
        notices=state.get("news", []),
        reputation=state.get("rep"),
    )
