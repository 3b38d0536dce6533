"""Orders, refunds, contacts, concessions and campaign responses from the customer service, kept
by id (replays change nothing).

Corrections (`order.updated`, `interaction.updated`) replace the fact with the record's snapshot,
and deletions mark it deleted, each only when its version is newer than the one kept; the customers
concerned are queued for re-scoring, so every event that changes a statistic changes the card.

Money arrives as decimal strings and stays Decimal. An order's `margin` is a rate in [0, 1]; a
value above 1 is read as a margin amount and turned into a rate of the order's amount.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict

from crm_chassis.consumer import PREPARED, Handler
from crm_chassis.events import Event
from crm_scoring.db import Session
from crm_scoring.readmodel import repository as fact_repo
from crm_scoring.readmodel.models import CampaignResponseFact, ConcessionFact, InteractionFact, OrderFact
from crm_scoring.retention import repository as action_repo
from crm_scoring.retention import service as action_service
from crm_scoring.scores import service as score_service


class OrderFacts(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: uuid.UUID
    customer_id: uuid.UUID
    occurred_at: datetime
    amount: Decimal
    currency: str = "CNY"
    margin: Decimal | None = None
    quantity: int | None = None
    channel: str | None = None
    refund_of: uuid.UUID | None = None


class InteractionFacts(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: uuid.UUID
    customer_id: uuid.UUID
    occurred_at: datetime
    channel: str | None = None
    direction: str | None = None
    owner_id: uuid.UUID | None = None
    next_follow_up_date: date | None = None
    summary: str | None = None
    follow_up_done: bool = False


def _margin_rate(margin: Decimal | None, amount: Decimal) -> Decimal | None:
    if margin is None:
        return None
    if Decimal(0) <= margin <= Decimal(1):
        return margin
    if amount > 0:
        return min(max(margin / amount, Decimal(0)), Decimal(1)).quantize(Decimal("0.0001"))
    return None


def _order_values(facts: OrderFacts) -> dict[str, Any]:
    return {
        "customer_id": facts.customer_id,
        "occurred_at": facts.occurred_at,
        "amount": facts.amount,
        "currency": facts.currency[:3],
        "margin": _margin_rate(facts.margin, facts.amount),
        "quantity": facts.quantity,
        "channel": facts.channel,
        "refund_of": facts.refund_of,
    }


async def _renet(session: Session, order: OrderFact) -> None:
    """A purchase's net amount from its live refunds (a refund's own is its amount)."""
    await session.flush()
    order.net_amount = order.amount if order.refund_of else order.amount + await fact_repo.refunded(session, order.id)


async def _renet_original(session: Session, refund_of: uuid.UUID | None) -> None:
    """A refund's purchase nets again, and its customer (not always the refund's, after an
    unmerge gave the purchase back) is scored again."""
    if refund_of is not None:
        original = await fact_repo.get_order(session, refund_of)
        if original is not None:
            await _renet(session, original)
            await score_service.request(session, original.customer_id)


NEW_ORDER_EVENTS = frozenset({"order.recorded", "order.refunded"})
# events after which a customer's open win-back action may sit with another customer
MOVING_EVENTS = frozenset({"customer.merged", "customer.unmerged"})


@dataclass
class OrderBatch:
    """What a batch's new orders would each ask the database, read for the batch at once.

    - `absent`: new order ids not stored before the batch; an id leaves the set when an event of
      the batch writes it, so a second event for it reads what the first one wrote.
    - `unrefunded`: new purchases with no refund stored and none anywhere in the batch: their net
      amount is their amount.
    - `winning_back`: customers with an open win-back action; None when the batch merges or
      unmerges someone, which can move an action to another customer.
    """

    absent: set[uuid.UUID]
    unrefunded: set[uuid.UUID]
    winning_back: set[uuid.UUID] | None


async def read_orders(session: Session, events: list[Event]) -> OrderBatch:
    """The customer-events consumer's `prepare`: three queries per batch instead of three per order."""
    new: dict[uuid.UUID, uuid.UUID] = {}  # order id → customer id
    refunded: set[uuid.UUID] = set()
    for event in events:
        if event.type.startswith("order."):
            refund_of = event.data.get("refund_of")
            if refund_of:
                refunded.add(uuid.UUID(str(refund_of)))
            if event.type in NEW_ORDER_EVENTS:
                new[uuid.UUID(str(event.data["id"]))] = uuid.UUID(str(event.data["customer_id"]))
    if not new:
        return OrderBatch(set(), set(), set())
    stored = await fact_repo.stored_orders(session, new)
    with_refunds = await fact_repo.orders_with_refunds(session, new)
    moving = any(event.type in MOVING_EVENTS for event in events)
    winning_back = None if moving else await action_repo.winning_back(session, set(new.values()))
    return OrderBatch(set(new) - stored, set(new) - with_refunds - refunded, winning_back)


def _batch(session: Session) -> OrderBatch | None:
    prepared = session.info.get(PREPARED)
    return prepared if isinstance(prepared, OrderBatch) else None


async def on_order(session: Session, event: Event) -> None:
    """`order.recorded` and `order.refunded`: a new fact (a replay of a known one changes nothing)."""
    facts = OrderFacts.model_validate(event.data)
    batch = _batch(session)
    if batch is not None and facts.id in batch.absent:
        batch.absent.discard(facts.id)
    elif await fact_repo.get_order(session, facts.id) is not None:
        return
    row = OrderFact(id=facts.id, net_amount=facts.amount, version=event.version, deleted=False, **_order_values(facts))
    session.add(row)
    if batch is None or facts.id not in batch.unrefunded:
        await _renet(session, row)
    await _renet_original(session, facts.refund_of)
    # a purchase: a lost customer with a win-back action came back
    if facts.refund_of is None and (
        batch is None or batch.winning_back is None or facts.customer_id in batch.winning_back
    ):
        await action_service.close_on_purchase(session, facts.customer_id, order_id=facts.id, at=facts.occurred_at)
    await score_service.request(session, facts.customer_id)


async def _order_changed(session: Session, event: Event, *, deleted: bool) -> None:
    facts = OrderFacts.model_validate(event.data)
    batch = _batch(session)
    if batch is not None:
        batch.absent.discard(facts.id)  # written below, whatever it was
    row = await fact_repo.get_order(session, facts.id, for_update=True)
    if row is None:  # its first event was never seen: the snapshot is the fact
        row = OrderFact(id=facts.id, net_amount=facts.amount, version=0, deleted=False, **_order_values(facts))
        session.add(row)
    elif row.version >= event.version:
        return  # an older state than the one kept
    before = row.customer_id
    for name, value in _order_values(facts).items():
        setattr(row, name, value)
    row.version, row.deleted = event.version, deleted or row.deleted
    await _renet(session, row)
    await _renet_original(session, row.refund_of)
    for customer_id in {before, row.customer_id}:
        await score_service.request(session, customer_id)


async def on_order_updated(session: Session, event: Event) -> None:
    """Margin, channel or items corrected: the fact takes the order's new snapshot."""
    await _order_changed(session, event, deleted=False)


async def on_order_deleted(session: Session, event: Event) -> None:
    """A deleted purchase is no purchase; a deleted refund no longer nets its purchase down."""
    await _order_changed(session, event, deleted=True)


async def on_interaction(session: Session, event: Event) -> None:
    facts = InteractionFacts.model_validate(event.data)
    if await fact_repo.get_interaction(session, facts.id) is None:
        session.add(InteractionFact(**facts.model_dump(), version=event.version, deleted=False))
        await score_service.request(session, facts.customer_id)


async def _interaction_changed(session: Session, event: Event, *, deleted: bool) -> None:
    facts = InteractionFacts.model_validate(event.data)
    row = await fact_repo.get_interaction(session, facts.id, for_update=True)
    if row is None:
        row = InteractionFact(**facts.model_dump(), version=0, deleted=False)
        session.add(row)
    elif row.version >= event.version:
        return
    before = row.customer_id
    for name, value in facts.model_dump(exclude={"id"}).items():
        setattr(row, name, value)
    row.version, row.deleted = event.version, deleted or row.deleted
    for customer_id in {before, row.customer_id}:
        await score_service.request(session, customer_id)


async def on_interaction_updated(session: Session, event: Event) -> None:
    await _interaction_changed(session, event, deleted=False)


async def on_interaction_deleted(session: Session, event: Event) -> None:
    await _interaction_changed(session, event, deleted=True)


class ConcessionFacts(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: uuid.UUID
    customer_id: uuid.UUID
    kind: str | None = None
    value: Decimal | None = None
    currency: str | None = None


async def on_concession(session: Session, event: Event) -> None:
    """A concession's value is a cost to serve; it is dated by its event (the payload has no date)."""
    facts = ConcessionFacts.model_validate(event.data)
    if await fact_repo.get_concession(session, facts.id) is None:
        session.add(
            ConcessionFact(
                id=facts.id,
                customer_id=facts.customer_id,
                granted_at=event.occurred_at,
                kind=facts.kind and facts.kind[:32],
                value=facts.value,
                currency=facts.currency and facts.currency[:3],
            )
        )
        await score_service.request(session, facts.customer_id)


class CampaignResponseFacts(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: uuid.UUID
    campaign_id: uuid.UUID
    customer_id: uuid.UUID
    type: str
    occurred_at: datetime


async def on_campaign_response(session: Session, event: Event) -> None:
    """Every response is kept, a delivery and an unsubscribe too: which ones count as engagement
    is the statistics' choice (`stats_repository.ENGAGING_RESPONSES`)."""
    facts = CampaignResponseFacts.model_validate(event.data)
    if await fact_repo.get_campaign_response(session, facts.id) is None:
        session.add(
            CampaignResponseFact(
                id=facts.id,
                customer_id=facts.customer_id,
                campaign_id=facts.campaign_id,
                type=facts.type[:16],
                occurred_at=facts.occurred_at,
            )
        )
        await score_service.request(session, facts.customer_id)


ACTIVITY_HANDLERS: Mapping[str, Handler] = {
    "campaign.response_recorded": on_campaign_response,
    "concession.granted": on_concession,
    "order.recorded": on_order,
    "order.refunded": on_order,
    "order.updated": on_order_updated,
    "order.deleted": on_order_deleted,
    "interaction.logged": on_interaction,
    "interaction.updated": on_interaction_updated,
    "interaction.deleted": on_interaction_deleted,
}
