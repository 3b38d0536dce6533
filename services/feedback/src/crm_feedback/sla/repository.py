"""Every query on SLA policies."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_chassis.pagination import paginate
from crm_feedback.sla.models import SlaPolicy


async def get(session: AsyncSession, policy_id: uuid.UUID, *, include_deleted: bool = False) -> SlaPolicy | None:
    stmt = select(SlaPolicy).where(SlaPolicy.id == policy_id)
    if not include_deleted:
        stmt = stmt.where(SlaPolicy.deleted_at.is_(None))
    return (await session.scalars(stmt)).one_or_none()


async def find_same_scope(
    session: AsyncSession, severity: str, category: str | None, exclude: uuid.UUID | None = None
) -> SlaPolicy | None:
    stmt = select(SlaPolicy).where(SlaPolicy.deleted_at.is_(None), SlaPolicy.severity == severity)
    stmt = stmt.where(SlaPolicy.category.is_(None) if category is None else SlaPolicy.category == category)
    if exclude is not None:
        stmt = stmt.where(SlaPolicy.id != exclude)
    return (await session.scalars(stmt.limit(1))).first()


async def matching(session: AsyncSession, severity: str, category: str) -> SlaPolicy | None:
    """The active policy for a complaint: one for its category wins over the severity-wide one."""
    rows = (
        await session.scalars(
            select(SlaPolicy).where(
                SlaPolicy.deleted_at.is_(None),
                SlaPolicy.active.is_(True),
                SlaPolicy.severity == severity,
                (SlaPolicy.category == category) | SlaPolicy.category.is_(None),
            )
        )
    ).all()
    return min(rows, key=lambda p: p.category is None, default=None)


async def list_page(
    session: AsyncSession, severity: str | None, limit: int, cursor: str | None
) -> tuple[Sequence[SlaPolicy], str | None]:
    stmt = select(SlaPolicy).where(SlaPolicy.deleted_at.is_(None))
    if severity is not None:
        stmt = stmt.where(SlaPolicy.severity == severity)
    order = [(SlaPolicy.created_at, False), (SlaPolicy.id, False)]
    return await paginate(session, stmt, order, "created_at", limit, cursor)
