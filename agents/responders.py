"""Agents whose behaviour is a response to an incentive lever, with the response written down.

- ``EffortSeller`` (intermediary): chooses the quality it delivers to maximise its expected
  payoff under outcome payment, the outcome reward and the reputation weight, against a
  private effort cost ``effort_cost x quality^2`` per unit.
- ``Opportunist`` (bilateral buyer, red-team-like): trades like a budget buyer, and each
  round is tempted to break the ``funds`` rule (an offer above what it holds, in the hope
  it slips through); it gives in when the hoped-for gain beats the expected fine.

Both read the policy in force from their observation every round (``agents.incentives``),
so a live change moves the next round's behaviour. docs/incentives.md gives the expected
response of each and the measured one.
"""

from __future__ import annotations

from collections.abc import Sequence

from agents.incentives import Terms, terms_of
from agents.observation import Observation
from agents.scripted import BudgetBuyer
from agents.traders import OutcomeSeller
from protocols.actions import ActionBase, MakeOffer

QUALITY_GRID = [i / 100 for i in range(101)]


def best_quality(terms: Terms, price: float, effort_cost: float, reputation_value: float) -> float:
    """The quality in [0, 1] (to 0.01) maximising ``keeps(price, q) + reputation_value * q - effort_cost * q^2``.

    ``keeps`` is what the seller receives for a unit at ``price`` delivering (and truthfully
    claiming) quality q: the outcome share of the price net of fee and tax, plus the subsidy
    and ``outcome_reward * q``. Without outcome payment and reputation this is
    ``min(1, outcome_reward / (2 * effort_cost))``. Ties go to the lower quality (effort is costly).
    """

    def payoff(q: float) -> float:
        return terms.seller_keeps(price, q) + reputation_value * q - effort_cost * q * q

    return max(QUALITY_GRID, key=lambda q: (round(payoff(q), 9), -q))


class EffortSeller(OutcomeSeller):
    """Intermediary seller that chooses the quality it delivers; leave its ``quality`` unset in the scenario.

    The intermediary draws each outcome from the delivered (claimed) quality when the seller
    has no fixed hidden quality, so the choice is real. Per unit it weighs:

    - outcome payment: the expected outcome share of the price, net of fee and tax;
    - the outcome reward: ``outcome_reward x q`` minted per unit;
    - reputation: a better outcome raises reputation by ``alpha`` per unit of quality, and each
      unit of reputation lowers its rank price by ``weight x price``; it values that over
      ``horizon`` future sales (param, default 3): ``alpha x weight x price x horizon x q``;
    - the private effort cost ``effort_cost x q^2`` (param, default 20), which also enters its
      floor price. It claims the quality it delivers (the claim score is proper).
    """

    kind = "effort_seller"
    description = (
        "Intermediary seller choosing delivered quality against an effort cost (effort_cost x q^2): "
        "more under outcome payment, outcome reward and reputation weight."
    )

    def _effort_cost(self) -> float:
        return float(self.params.get("effort_cost", 20.0))

    def _price_guess(self, obs: Observation) -> float:
        cost = sorted(obs.private.costs.items())[0][1] if obs.private.costs else obs.market.min_price
        return cost * (1 + float(self.params.get("markup", 0.2)))

    def quality(self, obs: Observation, price: float | None) -> float:
        """The payoff-maximising quality for a unit sold at ``price`` (an estimate of its ask if None)."""
        terms = terms_of(obs)
        p = price if price is not None else self._price_guess(obs)
        rep_value = terms.rep_alpha * terms.rep_weight * p * float(self.params.get("horizon", 3))
        return best_quality(terms, p, self._effort_cost(), rep_value)

    def floor(self, obs: Observation, cost: float) -> float:
        """Least price covering cost plus the effort of the quality it would deliver."""
        q = self.quality(obs, None)
        return terms_of(obs).seller_floor(cost + self._effort_cost() * q * q, q)


class Opportunist(BudgetBuyer):
    """Buyer that breaks the ``funds`` rule when the hoped-for gain beats the expected fine.

    Each round it sees a listing it has no thread on, it draws a temptation ``G`` uniform in
    ``[0, gain]`` (param, default 10): what it would gain if an offer above its balance went
    through. It believes that happens with probability ``hope`` (param, default 0.5). It
    offends when ``hope x G > expected fine``, the policy's fine for ``funds`` capped at its
    balance (a fine never takes more than an agent holds). So its violation rate is
    ``max(0, 1 - fine / (hope x gain))``: 1 with no fine, 0 once the fine reaches ``hope x gain``.
    Otherwise it trades as a budget buyer. Give it a budget below the market's max price, or
    it cannot offer above its balance. It is blind to suspensions: the observation does not
    say when a breaker would trip, so scenarios that measure the fine's effect turn breakers off.
    """

    kind = "opportunist"
    trader_view = False  # reads its observation beyond the budget buyer's view
    description = (
        "Red-team-like buyer: offers above its balance when gain x hope beats the expected funds fine "
        "(params gain, hope); otherwise a budget buyer."
    )

    def decide(self, obs: Observation) -> Sequence[ActionBase]:  # type: ignore[override]  # trader_view = False: Observation only
        """Trade as a budget buyer; add one offence if it pays in expectation."""
        actions = list(super().decide(obs))
        mine = {t.listing_id for t in obs.threads} | {
            a.listing_id for a in actions if isinstance(a, MakeOffer) and a.listing_id
        }
        targets = [li for li in obs.market.listings if li.seller != obs.agent_id and li.id not in mine]
        if not targets or obs.balance >= obs.market.max_price:
            return actions
        temptation = self.rng.uniform(0.0, float(self.params.get("gain", 10.0)))
        fine = terms_of(obs).expected_fine("funds", obs.balance)
        if float(self.params.get("hope", 0.5)) * temptation > fine:
            actions.append(MakeOffer(listing_id=targets[0].id, price=obs.market.max_price))
        return actions


RESPONDERS = (EffortSeller, Opportunist)
