"""Everything an agent can do, as one discriminated union of pydantic models.

The same models validate untrusted JSON (``parse_action``) and give LLMs their tool
schemas (``tool_schemas``), so the protocol and the prompt never disagree.
Prices are plain floats here on purpose: a NaN, negative or huge price parses, and is
then rejected by the ``price_bounds`` rule with a reason the agent can act on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal, Union, cast

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

MAX_TEXT = 4000  # schema-level cap on any free text; communication rules set tighter limits


class ActionBase(BaseModel):
    """Fields every action shares."""

    if TYPE_CHECKING:  # every concrete action declares its own ``type: Literal[...]`` field
        type: str

    model_config = ConfigDict(extra="forbid", frozen=True, ser_json_inf_nan="constants")

    sender: str | None = Field(
        None,
        description="Your own agent id. Optional; if given it must be yours.",
        max_length=128,
    )


class PostService(ActionBase):
    """Publish a listing: a service you sell, at an asking price, for a number of units."""

    type: Literal["post_service"] = "post_service"
    service: str = Field(description="Kind of service, e.g. 'translation'.", min_length=1, max_length=64)
    description: str = Field("", description="What the buyer gets.", max_length=MAX_TEXT)
    ask_price: float = Field(description="Asking price per unit, in currency units.")
    capacity: int = Field(description="How many units you can deliver in total.")


class RequestQuote(ActionBase):
    """Open a negotiation on a listing by asking its seller for a price."""

    type: Literal["request_quote"] = "request_quote"
    listing_id: str = Field(description="Id of the listing you want a quote for.", max_length=64)
    note: str = Field("", description="Optional note to the seller.", max_length=MAX_TEXT)


class MakeOffer(ActionBase):
    """Propose a price. Buyers open a thread on a listing; sellers answer a quote request."""

    type: Literal["make_offer"] = "make_offer"
    price: float = Field(description="Offered price per unit, in currency units.")
    listing_id: str | None = Field(None, description="Listing to open a new thread on (buyers).", max_length=64)
    thread_id: str | None = Field(None, description="Thread of a quote request to answer (sellers).", max_length=64)


class Counter(ActionBase):
    """Answer the other side's standing offer with a different price."""

    type: Literal["counter"] = "counter"
    thread_id: str = Field(description="Thread whose standing offer you counter.", max_length=64)
    price: float = Field(description="Your counter price, in currency units.")


class Accept(ActionBase):
    """Accept the other side's standing offer; the price moves into escrow."""

    type: Literal["accept"] = "accept"
    thread_id: str = Field(description="Thread whose standing offer you accept.", max_length=64)


class Reject(ActionBase):
    """Decline the other side's standing offer or quote request; the thread ends."""

    type: Literal["reject"] = "reject"
    thread_id: str = Field(description="Thread to reject.", max_length=64)
    reason: str = Field("", description="Optional reason.", max_length=MAX_TEXT)


class Withdraw(ActionBase):
    """Take back your own standing offer or quote request; the thread ends."""

    type: Literal["withdraw"] = "withdraw"
    thread_id: str = Field(description="Thread to withdraw from.", max_length=64)


class Deliver(ActionBase):
    """Seller: deliver the service of an accepted thread, claiming a quality."""

    type: Literal["deliver"] = "deliver"
    thread_id: str = Field(description="Accepted thread to deliver on.", max_length=64)
    quality: float = Field(1.0, description="Quality you claim, from 0 (worst) to 1 (best).")


class ReportOutcome(ActionBase):
    """Buyer: score what was delivered; this releases the escrow to the seller."""

    type: Literal["report_outcome"] = "report_outcome"
    thread_id: str = Field(description="Delivered thread to report on.", max_length=64)
    score: float = Field(description="Your score of the outcome, from 0 (useless) to 1 (perfect).")


class Message(ActionBase):
    """Free text to another agent, or to the other side of a thread."""

    type: Literal["message"] = "message"
    text: str = Field(description="The message.", max_length=MAX_TEXT)
    to: str | None = Field(None, description="Recipient agent id.", max_length=128)
    thread_id: str | None = Field(None, description="Thread the message belongs to.", max_length=64)


class PlaceOrder(ActionBase):
    """Double auction: a bid (buy) or an ask (sell) for one unit; it stands only if it improves the book."""

    type: Literal["place_order"] = "place_order"
    side: Literal["buy", "sell"] = Field(description="'buy' places a bid, 'sell' an ask.")
    service: str = Field(description="What is traded, e.g. 'widget'.", min_length=1, max_length=64)
    price: float = Field(description="Limit price for one unit, in currency units.")
    unit: int | None = Field(
        None, description="Optional: index of the unit this order is for (0 = your first); stale orders are refused."
    )


class SetPrice(ActionBase):
    """Posted prices: set the price at which buyers may buy your service now."""

    type: Literal["set_price"] = "set_price"
    service: str = Field(description="Your service whose price you set.", min_length=1, max_length=64)
    price: float = Field(description="The new posted price per unit, in currency units.")


class BuyNow(ActionBase):
    """Posted prices: buy one unit of a listing at its posted price."""

    type: Literal["buy_now"] = "buy_now"
    listing_id: str = Field(description="Listing to buy one unit of.", max_length=64)


class SealedBid(ActionBase):
    """Sealed-bid auction: bid for one unit of a listing; a new bid replaces your earlier one."""

    type: Literal["sealed_bid"] = "sealed_bid"
    listing_id: str = Field(description="The auctioned listing.", max_length=64)
    price: float = Field(description="Your sealed bid, in currency units.")


class RequestMatch(ActionBase):
    """Intermediary: ask to be matched with the best-ranked seller of a service, paying at most max_price."""

    type: Literal["request_match"] = "request_match"
    service: str = Field(description="The service you want.", min_length=1, max_length=64)
    max_price: float = Field(description="The most you will pay for one unit, in currency units.")


class Inspect(ActionBase):
    """Information market: look inside an item before buying; you forget it unless you buy it."""

    type: Literal["inspect"] = "inspect"
    listing_id: str = Field(description="The item to inspect.", max_length=64)


ACTION_TYPES: tuple[type[ActionBase], ...] = (
    PostService,
    RequestQuote,
    MakeOffer,
    Counter,
    Accept,
    Reject,
    Withdraw,
    Deliver,
    ReportOutcome,
    Message,
    PlaceOrder,
    SetPrice,
    BuyNow,
    SealedBid,
    RequestMatch,
    Inspect,
)
Action: Any = Annotated[Union[ACTION_TYPES], Field(discriminator="type")]  # noqa: UP007  (a union of the tuple)
"""Any action, chosen by its ``type`` tag (built from ``ACTION_TYPES``, the one list of action types)."""
# mypy reads an Annotated union as a special form, not a type; pydantic takes it as one
ACTION_ADAPTER: TypeAdapter[Any] = TypeAdapter(cast(Any, Action))
ACTION_NAMES: frozenset[str] = frozenset(t.model_fields["type"].default for t in ACTION_TYPES)


class ActionParseError(ValueError):
    """Raised when untrusted input is not a valid action; the message says what to fix."""


def _explain(err: ValidationError) -> str:
    parts = []
    for e in err.errors()[:5]:
        loc = ".".join(str(p) for p in e["loc"]) or "action"
        parts.append(f"{loc}: {e['msg']}")
    return "; ".join(parts)


def parse_action(data: str | bytes | dict[str, Any]) -> ActionBase:
    """Parse untrusted JSON (text or a dict) into an action, or raise ``ActionParseError``."""
    try:
        if isinstance(data, (str, bytes)):
            return ACTION_ADAPTER.validate_json(data)
        return ACTION_ADAPTER.validate_python(data)
    except ValidationError as err:
        raise ActionParseError(
            f"not a valid action ({_explain(err)}); allowed types: {', '.join(sorted(ACTION_NAMES))}"
        ) from None


def action_type(action: ActionBase) -> str:
    """The ``type`` tag of an action."""
    return action.type


def tool_schemas(types: tuple[type[ActionBase], ...] = ACTION_TYPES) -> list[dict[str, Any]]:
    """OpenAI-style tool definitions generated from the action models."""
    tools = []
    for t in types:
        schema = t.model_json_schema()
        schema["properties"].pop("type", None)
        schema["properties"].pop("sender", None)
        if "required" in schema:
            schema["required"] = [r for r in schema["required"] if r not in ("type", "sender")]
        schema.pop("title", None)
        tools.append(
            {
                "type": "function",
                "function": {
                    "name": t.model_fields["type"].default,
                    "description": (t.__doc__ or "").strip(),
                    "parameters": schema,
                },
            }
        )
    return tools
