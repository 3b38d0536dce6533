"""Test support: events as the producers send them, applied through the real handlers."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_chassis.events import Event
from crm_scoring.readmodel.feedback import FEEDBACK_HANDLERS
from crm_scoring.readmodel.handlers import HANDLERS

Maker = async_sessionmaker[AsyncSession]
NOW = datetime(2026, 11, 26, 12, tzinfo=UTC)


def event(type: str, data: dict[str, Any], *, version: int = 1, at: datetime = NOW, aggregate: Any = None) -> Event:
    return Event(
        id=uuid.uuid4(),
        seq=1,
        type=type,
        occurred_at=at,
        aggregate_id=str(aggregate or data.get("id") or uuid.uuid4()),
        version=version,
        data=data,
    )


async def apply(db: Maker, *events: Event) -> None:
    async with db.begin() as session:
        for e in events:
            handlers = FEEDBACK_HANDLERS if e.type.startswith(("complaint.", "survey.")) else HANDLERS
            await handlers[e.type](session, e)


def customer(cid: uuid.UUID, owner: uuid.UUID | None = None, **extra: Any) -> Event:
    data = {"id": str(cid), "kind": "individual", "name": "Li Lei", "owner_id": owner and str(owner)}
    data.update({"lifecycle_stage": "new", "created_at": "2025-01-01T00:00:00+00:00", **extra})
    return event("customer.created", data)


def order(cid: uuid.UUID, amount: str, at: datetime, **extra: Any) -> Event:
    data = {"id": str(uuid.uuid4()), "customer_id": str(cid), "occurred_at": at.isoformat(), "amount": amount}
    data.update({"currency": "CNY", "margin": "0.25", **extra})
    return event("order.recorded", data)
