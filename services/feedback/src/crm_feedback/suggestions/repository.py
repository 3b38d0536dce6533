from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_chassis.pagination import paginate
from crm_feedback.suggestions.models import Suggestion
from crm_feedback.suggestions.schemas import SuggestionFilters


async def get(session: AsyncSession, suggestion_id: uuid.UUID) -> Suggestion | None:
    stmt = select(Suggestion).where(Suggestion.id == suggestion_id, Suggestion.deleted_at.is_(None))
    return (await session.scalars(stmt)).one_or_none()


async def list_page(
    session: AsyncSession, filters: SuggestionFilters, limit: int, cursor: str | None
) -> tuple[Sequence[Suggestion], str | None]:
    stmt = select(Suggestion).where(Suggestion.deleted_at.is_(None))
    for name in ("customer_id", "status", "topic"):
        value = getattr(filters, name)
        if value is not None:
            stmt = stmt.where(getattr(Suggestion, name) == value)
    if filters.created_after:
        stmt = stmt.where(Suggestion.created_at >= filters.created_after)
    if filters.created_before:
        stmt = stmt.where(Suggestion.created_at < filters.created_before)
    order = [(Suggestion.created_at, False), (Suggestion.id, False)]
    return await paginate(session, stmt, order, "created_at", limit, cursor)
