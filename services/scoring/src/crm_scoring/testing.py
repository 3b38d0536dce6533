"""Test support: events as the producers send them, applied through the real handlers."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from crm_chassis.events import Event
from crm_scoring.db import Sessionmaker
from crm_scoring.readmodel.feedback import FEEDBACK_HANDLERS
from crm_scoring.readmodel.handlers import HANDLERS
from crm_scoring.retention import repository as action_repo
from crm_scoring.retention.models import OPEN, RetentionAction

Maker = Sessionmaker
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
            handlers = (
                FEEDBACK_HANDLERS if e.type.startswith(("complaint.", "survey.", "service_record.")) else HANDLERS
            )
            await handlers[e.type](session, e)


def customer(cid: uuid.UUID, owner: uuid.UUID | None = None, **extra: Any) -> Event:
    data = {"id": str(cid), "kind": "individual", "name": "Li Lei", "owner_id": owner and str(owner)}
    data.update({"lifecycle_stage": "new", "created_at": "2025-01-01T00:00:00+00:00", **extra})
    return event("customer.created", data)


def order(cid: uuid.UUID, amount: str, at: datetime, **extra: Any) -> Event:
    data = {"id": str(uuid.uuid4()), "customer_id": str(cid), "occurred_at": at.isoformat(), "amount": amount}
    data.update({"currency": "CNY", "margin": "0.25", **extra})
    return event("order.recorded", data)


def score_row(**changes: Any) -> dict[str, Any]:
    """A stored score row of a plain repeat buyer (every registered score), with `changes`."""
    from crm_scoring.scores import registry

    row: dict[str, Any] = {s.column: None for s in registry.SCORES}
    row |= {s.column: 0 for s in registry.SCORES if s.kind == "count"}
    row |= {"purchase_days": 3, "total_spend": Decimal("90.00"), "window_spend": Decimal("30.00")}
    row |= {"annual_profit": Decimal("12.00"), "cost_to_serve": Decimal("0.00"), "abc_value": 30.0}
    row |= {"abc_class": "B", "loyalty_stage": "repeat"}
    row |= {"first_purchase_date": date(2025, 1, 1), "last_purchase_date": date(2025, 6, 1)}
    row |= {"customer_id": uuid.uuid4(), "run_id": None, "as_of": datetime(2026, 1, 1, tzinfo=UTC)}
    return row | changes


async def open_action(db: Maker, customer_id: uuid.UUID, *, at: datetime = NOW) -> uuid.UUID:
    """The customer's open retention action (opened here as a scoring would, unless one is open)."""
    opened = {"customer_id": customer_id, "countermeasure": "win_back", "suggestion": "lost", "value_segment": None}
    async with db.begin() as session:
        await action_repo.open_actions(session, [opened], at=at, due_date=at.date())
        found = await session.scalar(
            select(RetentionAction.id).where(RetentionAction.customer_id == customer_id, RetentionAction.status == OPEN)
        )
    assert found is not None
    return found
