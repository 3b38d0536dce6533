"""Handlers that move the lifecycle: the service's own `order.recorded`, and scoring's
`score.suggestions_changed` (which also brings the suggested fields the record shows)."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict

from crm_chassis.consumer import PREPARED, Handler
from crm_chassis.events import Event
from crm_customer.customers import repository as customer_repo
from crm_customer.customers import service as customer_service
from crm_customer.customers.models import Customer
from crm_customer.db import Session
from crm_customer.lifecycle import rules
from crm_customer.orders import repository as order_repo

LIFECYCLE_CONSUMER = "lifecycle"  # follows this service's own outbox
SCORING_CONSUMER = "scoring-events"


class Purchase(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: uuid.UUID
    customer_id: uuid.UUID
    occurred_at: datetime
    amount: Decimal
    refund_of: uuid.UUID | None = None


class Suggestions(BaseModel):
    model_config = ConfigDict(extra="ignore")

    customer_id: uuid.UUID
    value_segment: str | None = None
    abc_class: str | None = None
    churn_risk: float | None = None
    lifecycle_suggestion: str | None = None
    loyalty_stage: str | None = None
    relationship_level: str | None = None


@dataclass(frozen=True)
class Bought:
    """A batch's customers and their purchases, read once for all of its `order.recorded` events."""

    customers: dict[uuid.UUID, Customer]
    purchases: dict[uuid.UUID, list[tuple[uuid.UUID, datetime]]]


async def read_buyers(session: Session, events: list[Event]) -> Bought:
    """The consumer's `prepare`: two queries per batch instead of two per order (and the same two
    for one order when its events are applied one by one)."""
    named = _customers_named(events, {"order.recorded"})
    if not named:
        return Bought({}, {})
    return Bought(await customer_repo.get_many(session, named), await order_repo.purchase_times_of(session, named))


def order_handlers(activity_window_days: int) -> Mapping[str, Handler]:
    async def on_order(session: Session, event: Event) -> None:
        order = Purchase.model_validate(event.data)
        if order.refund_of is not None or order.amount < 0:
            return
        bought: Bought | None = session.info.get(PREPARED)  # read for the batch, or for this event alone
        if bought is None:
            bought = await read_buyers(session, [event])
        customer = bought.customers.get(order.customer_id)
        if customer is None:
            return
        others = [when for order_id, when in bought.purchases.get(customer.id, ()) if order_id != order.id]
        moved = rules.after_purchase(customer.lifecycle_stage, order.occurred_at, others, activity_window_days)
        if moved is not None:
            stage, cause = moved
            await customer_service.set_stage_by_rule(session, customer, stage, f"{cause} (order {order.id})")

    return {"order.recorded": on_order}


async def read_scored(session: Session, events: list[Event]) -> dict[uuid.UUID, Customer]:
    """The `scoring-events` consumer's `prepare`: the batch's customers with one query."""
    named = _customers_named(events, SCORE_HANDLERS.keys())
    return await customer_repo.get_many(session, named) if named else {}


def _customers_named(events: list[Event], types: Collection[str]) -> set[uuid.UUID]:
    """The customers the batch's events of these types name (an event that names none in a form
    the handler reads fails there, on its own)."""
    named = set()
    for event in events:
        with contextlib.suppress(KeyError, TypeError, ValueError, AttributeError):
            if event.type in types:
                named.add(uuid.UUID(event.data["customer_id"]))
    return named


async def _scored(session: Session, event: Event, customer_id: uuid.UUID) -> Customer | None:
    scored: dict[uuid.UUID, Customer] | None = session.info.get(PREPARED)  # the batch's, or this event's
    if scored is None:
        scored = await read_scored(session, [event])
    return scored.get(customer_id)


async def on_suggestions(session: Session, event: Event) -> None:
    facts = Suggestions.model_validate(event.data)
    customer = await _scored(session, event, facts.customer_id)
    if customer is None or event.version <= customer.suggestions_version:
        return
    customer.suggested_value_segment = facts.value_segment
    customer.suggested_abc_class = facts.abc_class
    customer.suggested_churn_risk = facts.churn_risk
    customer.suggested_lifecycle_stage = facts.lifecycle_suggestion
    customer.suggested_loyalty_stage = facts.loyalty_stage
    customer.suggested_relationship_level = facts.relationship_level
    customer.suggested_at = event.occurred_at
    customer.suggestions_version = event.version
    await session.flush()
    moved = rules.after_scoring(customer.lifecycle_stage, facts.lifecycle_suggestion, facts.churn_risk)
    if moved is not None:
        await customer_service.set_stage_by_rule(session, customer, *moved)


class ChurnRisk(BaseModel):
    model_config = ConfigDict(extra="ignore")

    customer_id: uuid.UUID
    churn_risk: float | None = None


async def on_churn_risk(session: Session, event: Event) -> None:
    """A risen churn risk alone sends no `score.suggestions_changed`: keep the record's risk current
    (campaign targets select by it). The same scoring's suggestions carry the same value."""
    facts = ChurnRisk.model_validate(event.data)
    customer = await _scored(session, event, facts.customer_id)
    if customer is None or event.version < customer.suggestions_version or facts.churn_risk is None:
        return
    customer.suggested_churn_risk = facts.churn_risk
    customer.suggested_at = event.occurred_at
    await session.flush()


SCORE_HANDLERS: Mapping[str, Handler] = {
    "score.suggestions_changed": on_suggestions,
    "score.churn_risk_raised": on_churn_risk,
}
