"""Every query on SLA policies."""

from __future__ import annotations

import uuid

from sqlalchemy import Select, select

from crm_chassis.pagination import Page, paginate
from crm_feedback.db import Session
from crm_feedback.sla.models import SlaPolicy


def _live() -> Select[SlaPolicy]:
    """The policies not deleted (a complaint still reads the one it was given: `include_deleted`)."""
    return select(SlaPolicy).where(SlaPolicy.deleted_at.is_(None))


async def get(session: Session, policy_id: uuid.UUID, *, include_deleted: bool = False) -> SlaPolicy | None:
    stmt = select(SlaPolicy) if include_deleted else _live()
    return (await session.scalars(stmt.where(SlaPolicy.id == policy_id))).one_or_none()


async def find_same_scope(
    session: Session, severity: str, category: str | None, exclude: uuid.UUID | None = None
) -> SlaPolicy | None:
    stmt = _live().where(SlaPolicy.severity == severity)
    stmt = stmt.where(SlaPolicy.category.is_(None) if category is None else SlaPolicy.category == category)
    if exclude is not None:
        stmt = stmt.where(SlaPolicy.id != exclude)
    return (await session.scalars(stmt.limit(1))).first()


async def matching(session: Session, severity: str, category: str) -> SlaPolicy | None:
    """The active policy for a complaint: one for its category wins over the severity-wide one."""
    rows = (
        await session.scalars(
            _live().where(
                SlaPolicy.active.is_(True),
                SlaPolicy.severity == severity,
                (SlaPolicy.category == category) | SlaPolicy.category.is_(None),
            )
        )
    ).all()
    return min(rows, key=lambda p: p.category is None, default=None)


async def list_page(session: Session, severity: str | None, limit: int, cursor: str | None) -> Page[SlaPolicy]:
    stmt = _live()
    if severity is not None:
        stmt = stmt.where(SlaPolicy.severity == severity)
    order = [(SlaPolicy.created_at, False), (SlaPolicy.id, False)]
    return await paginate(session, stmt, order, "created_at", limit, cursor)
