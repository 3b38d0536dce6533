from __future__ import annotations

import uuid

from crm_chassis.db import utcnow
from crm_chassis.errors import Conflict, NotFound
from crm_chassis.identity import Principal
from crm_chassis.pagination import Page
from crm_chassis.patching import changes_of
from crm_feedback.common.customers import ensure_customer
from crm_feedback.db import Session
from crm_feedback.suggestions import repository as suggestion_repo
from crm_feedback.suggestions.models import Suggestion
from crm_feedback.suggestions.schemas import (
    NEXT_STATUSES,
    SuggestionCreate,
    SuggestionFilters,
    SuggestionStatus,
    SuggestionUpdate,
)


async def create(session: Session, *, data: SuggestionCreate, actor: str) -> Suggestion:
    if data.customer_id is not None:
        await ensure_customer(session, data.customer_id)
    now = utcnow()
    suggestion = Suggestion(
        id=uuid.uuid4(),
        customer_id=data.customer_id,
        topic=data.topic,
        text=data.text,
        status=SuggestionStatus.new,
        created_by=actor,
        created_at=now,
        updated_at=now,
    )
    session.add(suggestion)
    await session.flush()
    return suggestion


async def get(session: Session, *, suggestion_id: uuid.UUID) -> Suggestion:
    suggestion = await suggestion_repo.get(session, suggestion_id)
    if suggestion is None:
        raise NotFound(f"suggestion {suggestion_id} does not exist", code="suggestion_not_found")
    return suggestion


async def update(session: Session, *, suggestion: Suggestion, data: SuggestionUpdate, actor: str) -> Suggestion:
    fields = changes_of(data, not_nullable=("topic", "text", "status"))
    status = fields.pop("status", None)
    if status is not None and status != suggestion.status:
        allowed = sorted(NEXT_STATUSES[SuggestionStatus(suggestion.status)])
        if status not in allowed:
            raise Conflict(
                f"a {suggestion.status} suggestion cannot become {status}",
                code="illegal_transition",
                allowed=allowed,
            )
        suggestion.status = status
        suggestion.decided_by, suggestion.decided_at = actor, utcnow()
    for name, value in fields.items():
        setattr(suggestion, name, value)
    suggestion.updated_at = utcnow()
    await session.flush()
    return suggestion


async def delete(session: Session, *, suggestion: Suggestion) -> None:
    suggestion.deleted_at = suggestion.updated_at = utcnow()
    await session.flush()


async def list_page(
    session: Session, *, filters: SuggestionFilters, limit: int, cursor: str | None, principal: Principal
) -> Page[Suggestion]:
    return await suggestion_repo.list_page(session, filters, limit, cursor, principal)
