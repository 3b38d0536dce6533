"""Orders, refunds and contacts from the customer service, kept by id (replays change nothing).

Money arrives as decimal strings and stays Decimal. An order's `margin` is a rate in [0, 1]; a
value above 1 is read as a margin amount and turned into a rate of the order's amount.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_chassis.consumer import Handler
from crm_chassis.events import Event
from crm_scoring.readmodel.models import InteractionFact, OrderFact
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


def _margin_rate(margin: Decimal | None, amount: Decimal) -> Decimal | None:
    if margin is None:
        return None
    if Decimal(0) <= margin <= Decimal(1):
        return margin
    if amount > 0:
        return min(max(margin / amount, Decimal(0)), Decimal(1)).quantize(Decimal("0.0001"))
    return None


async def _refunded(session: AsyncSession, order_id: uuid.UUID) -> Decimal:
    total = await session.scalar(select(func.sum(OrderFact.amount)).where(OrderFact.refund_of == order_id))
    return Decimal(total or 0)


async def on_order(session: AsyncSession, event: Event) -> None:
    facts = OrderFacts.model_validate(event.data)
    if await session.get(OrderFact, facts.id) is not None:
        return
    net = facts.amount if facts.refund_of else facts.amount + await _refunded(session, facts.id)
    session.add(
        OrderFact(
            id=facts.id,
            customer_id=facts.customer_id,
            occurred_at=facts.occurred_at,
            amount=facts.amount,
            net_amount=net,
            currency=facts.currency[:3],
            margin=_margin_rate(facts.margin, facts.amount),
            quantity=facts.quantity,
            channel=facts.channel,
            refund_of=facts.refund_of,
        )
    )
    await session.flush()
    if facts.refund_of is not None:
        original = await session.get(OrderFact, facts.refund_of)
        if original is not None:
            original.net_amount = original.amount + await _refunded(session, original.id)
    await score_service.request(session, facts.customer_id)


async def on_interaction(session: AsyncSession, event: Event) -> None:
    facts = InteractionFacts.model_validate(event.data)
    if await session.get(InteractionFact, facts.id) is None:
        session.add(InteractionFact(**facts.model_dump()))
        await score_service.request(session, facts.customer_id)


ACTIVITY_HANDLERS: Mapping[str, Handler] = {
    "order.recorded": on_order,
    "order.refunded": on_order,
    "interaction.logged": on_interaction,
}
