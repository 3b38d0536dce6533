"""Points and concessions: rewards that are audited, and never a reward for threatening to leave."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_chassis.db import utcnow
from crm_chassis.errors import Conflict, Unprocessable
from crm_chassis.identity import Principal
from crm_chassis.pagination import paginate
from crm_customer import events
from crm_customer.customers.models import Customer
from crm_customer.loyalty.models import Concession, PointsEntry
from crm_customer.loyalty.schemas import ConcessionCreate, ConcessionReason, PointsCreate


async def balance(session: AsyncSession, customer_id: uuid.UUID) -> int:
    total = await session.scalar(
        select(func.coalesce(func.sum(PointsEntry.points), 0)).where(PointsEntry.customer_id == customer_id)
    )
    return int(total or 0)


async def post_points(
    session: AsyncSession, *, customer: Customer, data: PointsCreate, principal: Principal
) -> PointsEntry:
    """Add a ledger entry; 409 and nothing written if it would take the balance below zero."""
    # Lock the customer row: concurrent redeems queue here, so two cannot both spend the same points.
    await session.execute(select(Customer.id).where(Customer.id == customer.id).with_for_update())
    current = await balance(session, customer.id)
    after = current + data.delta
    if after < 0:
        raise Conflict(
            f"the balance is {current} points; this {data.kind} needs {-data.delta}",
            code="insufficient_points",
            balance=current,
        )
    entry = PointsEntry(
        id=uuid.uuid4(),
        customer_id=customer.id,
        kind=data.kind,
        points=data.delta,
        balance_after=after,
        reason=data.reason,
        created_by=principal.subject,
        created_at=utcnow(),
    )
    session.add(entry)
    await session.flush()
    payload = {"id": str(entry.id), "customer_id": str(customer.id), "kind": entry.kind, "points": entry.points}
    await events.publish(session, events.POINTS_CHANGED, customer.id, {**payload, "balance": after}, 1)
    return entry


async def ledger_page(
    session: AsyncSession, *, customer_id: uuid.UUID, limit: int, cursor: str | None
) -> tuple[list[PointsEntry], str | None]:
    stmt = select(PointsEntry).where(PointsEntry.customer_id == customer_id)
    order = [(PointsEntry.created_at, True), (PointsEntry.id, True)]
    return await paginate(session, stmt, order, "-created_at", limit, cursor)


async def grant_concession(
    session: AsyncSession, *, customer: Customer, data: ConcessionCreate, principal: Principal
) -> Concession:
    if data.reason == ConcessionReason.threatened_to_leave and data.reciprocal is None:
        # Never reward disloyalty: a concession to a customer who threatens to leave must buy something back.
        raise Unprocessable.field(
            "reciprocal",
            "reciprocal_required",
            "a concession to a customer who threatened to leave must record what the customer gives in return",
        )
    concession = Concession(
        id=uuid.uuid4(),
        customer_id=customer.id,
        granted_by=principal.subject,
        granted_at=utcnow(),
        **data.model_dump(mode="python"),
    )
    session.add(concession)
    await session.flush()
    payload = {
        "id": str(concession.id),
        "customer_id": str(customer.id),
        "kind": concession.kind,
        "reason": concession.reason,
        "value": None if concession.value is None else str(concession.value),
        "currency": concession.currency,
    }
    await events.publish(session, events.CONCESSION_GRANTED, concession.id, payload, 1)
    return concession


async def concessions_page(
    session: AsyncSession, *, customer_id: uuid.UUID, limit: int, cursor: str | None
) -> tuple[list[Concession], str | None]:
    stmt = select(Concession).where(Concession.customer_id == customer_id)
    order = [(Concession.granted_at, True), (Concession.id, True)]
    return await paginate(session, stmt, order, "-granted_at", limit, cursor)
