"""The prospects' ranking, computed by the database so that pages follow one order."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Integer, case, cast, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_chassis.identity import Principal
from crm_chassis.pagination import Page, paginate_rows
from crm_customer.customers import repository as customer_repo
from crm_customer.customers.models import Customer
from crm_customer.interactions.models import Interaction
from crm_customer.prospects import scoring


def _points(column: Any, table: dict[str, int]) -> Any:
    return case(*((column == name, points) for name, points in table.items()), else_=0)


async def ranked(
    session: AsyncSession,
    principal: Principal,
    *,
    owner_id: uuid.UUID | None,
    as_of: datetime,
    limit: int,
    cursor: str | None,
) -> Page[Any]:
    last = (
        select(Interaction.customer_id.label("cid"), func.max(Interaction.occurred_at).label("last_at"))
        .where(Interaction.deleted_at.is_(None), Interaction.occurred_at <= as_of)
        .group_by(Interaction.customer_id)
        .subquery()
    )
    recency = case(
        *((last.c.last_at >= as_of - timedelta(days=within), points) for within, points in scoring.RECENCY_POINTS),
        else_=0,
    )
    score = cast(
        _points(Customer.need_level, scoring.NEED_POINTS)
        + _points(Customer.purchasing_power, scoring.POWER_POINTS)
        + case((Customer.has_purchase_authority.is_(True), literal(scoring.AUTHORITY_POINTS)), else_=0)
        + recency,
        Integer,
    )
    stmt = (
        select(
            Customer.id,
            Customer.name,
            Customer.owner_id,
            Customer.need_level,
            Customer.purchasing_power,
            Customer.has_purchase_authority,
            last.c.last_at,
            score.label("score"),
        )
        .outerjoin(last, last.c.cid == Customer.id)
        .where(
            Customer.lifecycle_stage == "prospect",
            customer_repo.live(),  # erased and merged customers are deleted too
            customer_repo.visible(principal),
        )
    )
    if owner_id is not None:
        stmt = stmt.where(Customer.owner_id == owner_id)
    rank = func.row_number().over(order_by=(score.desc(), Customer.id)).label("rank")
    numbered = stmt.add_columns(rank).subquery()
    page_stmt = select(numbered)
    order: list[tuple[Any, bool]] = [(numbered.c.rank, False)]
    return await paginate_rows(session, page_stmt, order, "rank", limit, cursor, key=lambda row: [row.rank])
