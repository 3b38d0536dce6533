"""Small request helpers shared by the feedback tests."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_chassis.db import utcnow
from crm_chassis.events import Event
from crm_feedback.db import infra
from crm_feedback.readmodel.handlers import HANDLERS
from crm_feedback.readmodel.models import CustomerRef

PROBLEM = "application/problem+json"


async def create_complaint(client: httpx.AsyncClient, customer_id: uuid.UUID, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "customer_id": str(customer_id),
        "channel": "phone",
        "category": "delivery",
        "severity": "high",
        "description": "The parcel arrived broken.",
    }
    body.update(overrides)
    response = await client.post("/complaints", json=body)
    assert response.status_code == 201, response.text
    return response.json()


async def act(client: httpx.AsyncClient, complaint_id: str, action: str, **extra: Any) -> httpx.Response:
    body: dict[str, Any] = {"action": action, **extra}
    if action == "resolve":
        body.setdefault("resolution", "Replaced the item.")
    return await client.post(f"/complaints/{complaint_id}/transitions", json=body)


async def outbox(db: async_sessionmaker[AsyncSession], type: str | None = None) -> list[dict[str, Any]]:
    async with db() as session:
        stmt = select(infra.outbox.c.type, infra.outbox.c.data).order_by(infra.outbox.c.seq)
        if type is not None:
            stmt = stmt.where(infra.outbox.c.type == type)
        return [{"type": t, "data": d} for t, d in (await session.execute(stmt)).all()]


async def count(db: async_sessionmaker[AsyncSession], model: Any) -> int:
    async with db() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def make_customer(db: async_sessionmaker[AsyncSession], **overrides: Any) -> uuid.UUID:
    """A customer as the customer service's events would have recorded it."""
    values: dict[str, Any] = {
        "id": uuid.uuid4(),
        "kind": "individual",
        "display_name": "Ada",
        "owner_id": None,
        "lifecycle_stage": "active",
        "deleted": False,
        "erased": False,
        "version": 1,
        "updated_at": utcnow(),
    }
    values.update(overrides)
    async with db.begin() as session:
        session.add(CustomerRef(**values))
    return uuid.UUID(str(values["id"]))


async def apply(db: async_sessionmaker[AsyncSession], type: str, data: dict[str, Any], version: int = 5) -> None:
    """Apply one `customer.*` event with the handler the consumer would use, in its own transaction."""
    event = Event(
        id=uuid.uuid4(),
        seq=1,
        type=type,
        occurred_at=datetime.now(UTC),
        aggregate_id=str(data.get("id") or data.get("duplicate_id")),
        version=version,
        data=data,
    )
    async with db.begin() as session:
        await HANDLERS[type](session, event)
