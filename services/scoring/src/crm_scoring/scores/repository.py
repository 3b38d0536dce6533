"""Queries on stored scores (lists and filters), joined to the customer read model for owners."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_chassis.pagination import after_keyset, decode_cursor, encode_cursor
from crm_scoring.models import rfm
from crm_scoring.models.segments import SEGMENT_TABLE
from crm_scoring.readmodel.models import CustomerRef
from crm_scoring.scores.models import CustomerScore


def _base() -> Any:
    return select(CustomerScore, CustomerRef.owner_id, CustomerRef.display_name).join(
        CustomerRef, CustomerRef.id == CustomerScore.customer_id
    )


async def get(session: AsyncSession, customer_id: uuid.UUID) -> Any | None:
    return (await session.execute(_base().where(CustomerScore.customer_id == customer_id))).one_or_none()


async def list_page(
    session: AsyncSession,
    *,
    segment: str | None,
    abc_class: str | None,
    churn_risk_gte: float | None,
    care_status: str | None,
    owner_id: uuid.UUID | None,
    visible_owners: frozenset[uuid.UUID] | None = None,
    limit: int,
    cursor: str | None,
) -> tuple[Sequence[Any], str | None]:
    stmt = _base()
    if segment in SEGMENT_TABLE:
        stmt = stmt.where(CustomerScore.value_segment == segment)
    elif segment in rfm.SEGMENTS:
        stmt = stmt.where(CustomerScore.rfm_segment == segment)
    for column, wanted in ((CustomerScore.abc_class, abc_class), (CustomerScore.care_status, care_status)):
        if wanted is not None:
            stmt = stmt.where(column == wanted)
    if churn_risk_gte is not None:
        stmt = stmt.where(CustomerScore.churn_risk >= churn_risk_gte)
    if owner_id is not None:
        stmt = stmt.where(CustomerRef.owner_id == owner_id)
    if visible_owners is not None:
        stmt = stmt.where(CustomerRef.owner_id.in_(visible_owners))
    order: list[tuple[Any, bool]] = [(CustomerScore.customer_id, False)]
    if cursor:
        stmt = stmt.where(after_keyset(order, decode_cursor(cursor, "scores", 1)))
    rows = (await session.execute(stmt.order_by(CustomerScore.customer_id).limit(limit + 1))).all()
    if len(rows) <= limit:
        return rows, None
    return rows[:limit], encode_cursor("scores", [rows[limit - 1][0].customer_id])


async def care_due(
    session: AsyncSession, *, owner_id: uuid.UUID, until: date, limit: int, cursor: str | None
) -> tuple[Sequence[Any], str | None]:
    stmt = _base().where(
        CustomerRef.owner_id == owner_id, CustomerScore.care_status.is_not(None), CustomerScore.care_due_date <= until
    )
    order: list[tuple[Any, bool]] = [(CustomerScore.care_due_date, False), (CustomerScore.customer_id, False)]
    if cursor:
        values = decode_cursor(cursor, "care", 2)
        stmt = stmt.where(after_keyset(order, [date.fromisoformat(values[0]), values[1]]))
    stmt = stmt.order_by(CustomerScore.care_due_date, CustomerScore.customer_id).limit(limit + 1)
    rows = (await session.execute(stmt)).all()
    if len(rows) <= limit:
        return rows, None
    last = rows[limit - 1][0]
    return rows[:limit], encode_cursor("care", [last.care_due_date.isoformat(), last.customer_id])
