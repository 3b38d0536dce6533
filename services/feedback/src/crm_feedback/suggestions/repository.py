"""Every query on suggestions."""

from __future__ import annotations

import uuid

from sqlalchemy import Select, select, update

from crm_chassis.identity import Principal
from crm_chassis.pagination import Page, paginate
from crm_feedback.db import Session
from crm_feedback.readmodel import repository as customer_repo
from crm_feedback.suggestions.models import Suggestion
from crm_feedback.suggestions.schemas import SuggestionFilters


def _live() -> Select[Suggestion]:
    """The suggestions not deleted: every read starts here."""
    return select(Suggestion).where(Suggestion.deleted_at.is_(None))


async def get(session: Session, suggestion_id: uuid.UUID) -> Suggestion | None:
    return (await session.scalars(_live().where(Suggestion.id == suggestion_id))).one_or_none()


async def list_page(
    session: Session, filters: SuggestionFilters, limit: int, cursor: str | None, principal: Principal
) -> Page[Suggestion]:
    stmt = _live().where(customer_repo.visible_to(principal, Suggestion.customer_id, Suggestion.created_by))
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


async def erase_customer(session: Session, customer_id: uuid.UUID, *, placeholder: str) -> None:
    """Blank the text of the customer's suggestions and our replies (a new version each)."""
    await session.execute(
        update(Suggestion)
        .where(Suggestion.customer_id == customer_id)
        .values(text=placeholder, reply=None, version=Suggestion.version + 1)
    )
