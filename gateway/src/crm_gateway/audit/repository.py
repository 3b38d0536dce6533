"""Every query on the audit trail."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_chassis.pagination import Page, paginate
from crm_gateway.audit.models import AuditEvent


async def add_all(session: AsyncSession, entries: list[dict[str, Any]]) -> None:
    """Write a batch of entries in one statement."""
    await session.execute(insert(AuditEvent), entries)


async def list_page(
    session: AsyncSession,
    *,
    limit: int,
    cursor: str | None,
    principal_id: str | None = None,
    path_prefix: str | None = None,
    personal_data: bool | None = None,
    occurred_from: datetime | None = None,
    occurred_to: datetime | None = None,
) -> Page[AuditEvent]:
    """Entries newest first, narrowed by each filter given; `occurred_to` is exclusive."""
    stmt = select(AuditEvent)
    if principal_id is not None:
        stmt = stmt.where(AuditEvent.principal_id == principal_id)
    if path_prefix is not None:
        stmt = stmt.where(AuditEvent.path.startswith(path_prefix, autoescape=True))
    if personal_data is not None:
        stmt = stmt.where(AuditEvent.personal_data.is_(personal_data))
    if occurred_from is not None:
        stmt = stmt.where(AuditEvent.occurred_at >= occurred_from)
    if occurred_to is not None:
        stmt = stmt.where(AuditEvent.occurred_at < occurred_to)
    return await paginate(session, stmt, [(AuditEvent.seq, True)], "seq", limit, cursor)
