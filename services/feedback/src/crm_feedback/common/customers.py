"""A customer named in a request must be known from the customer service's events and not deleted."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_chassis.errors import Unprocessable
from crm_feedback.readmodel.models import CustomerRef


async def unknown_customers(session: AsyncSession, ids: Iterable[uuid.UUID]) -> set[uuid.UUID]:
    wanted = set(ids)
    if not wanted:
        return set()
    known = await session.scalars(
        select(CustomerRef.id).where(
            CustomerRef.id.in_(wanted), CustomerRef.deleted.is_(False), CustomerRef.erased.is_(False)
        )
    )
    return wanted - set(known.all())


def unknown_customer_error(field: str, customer_id: uuid.UUID) -> dict[str, str]:
    return {"field": field, "code": "unknown_customer", "message": f"no active customer {customer_id}"}


async def ensure_customer(session: AsyncSession, customer_id: uuid.UUID, field: str = "customer_id") -> None:
    if await unknown_customers(session, [customer_id]):
        raise Unprocessable(f"invalid input: {field}", errors=[unknown_customer_error(field, customer_id)])
