"""Retention actions: the work list of churn countermeasures, and their outcomes.

Actions are opened by the scoring writers (`scores/bulk_repository.py`), in the same transaction as
the card that turned at_risk or lost. People close them with an outcome; a purchase closes a
win-back action of a lost customer as `won_back` (`close_on_purchase`).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from crm_chassis.db import utcnow
from crm_chassis.errors import Conflict, Forbidden, NotFound
from crm_chassis.identity import Principal
from crm_chassis.pagination import Page
from crm_scoring.access import own_customers_only
from crm_scoring.db import Session
from crm_scoring.retention import repository as action_repo
from crm_scoring.retention.models import CLOSED
from crm_scoring.retention.schemas import RetentionActionFilters, RetentionActionRead, RetentionActionUpdate


def read_model(row: action_repo.ActionRow, principal: Principal) -> RetentionActionRead:
    """An analyst reads the work list for analysis: without the customer's name or the free-text note."""
    action, owner_id, display_name = row
    fields = {name: getattr(action, name) for name in RetentionActionRead.model_fields if hasattr(action, name)}
    personal = principal.role != "analyst"
    fields |= {"owner_id": owner_id, "display_name": display_name if personal else None}
    if not personal:
        fields["note"] = None
    return RetentionActionRead.model_validate(fields)


async def get(
    session: Session, principal: Principal, action_id: uuid.UUID, *, for_update: bool = False
) -> action_repo.ActionRow:
    """The action, if the caller may see its customer (404 otherwise, as for a missing one)."""
    row = await action_repo.get(session, action_id, for_update=for_update)
    only = own_customers_only(principal)
    if row is None or (only is not None and row[1] not in only):
        raise NotFound(f"retention action {action_id} does not exist", code="retention_action_not_found")
    return row


async def list_page(
    session: Session, principal: Principal, *, filters: RetentionActionFilters, limit: int, cursor: str | None
) -> Page[RetentionActionRead]:
    only = own_customers_only(principal)
    if only is not None and filters.owner_id is not None and filters.owner_id not in only:
        raise Forbidden("an account manager sees their own (or their team's) actions only")
    found = await action_repo.list_page(
        session, **filters.model_dump(), visible_owners=only, limit=limit, cursor=cursor
    )
    return found.map(lambda row: read_model(row, principal))


async def update(
    session: Session, *, row: action_repo.ActionRow, data: RetentionActionUpdate, principal: Principal
) -> RetentionActionRead:
    action = row[0]
    changes = data.model_dump(exclude_unset=True)
    outcome = changes.get("outcome")
    if outcome is not None and action.status == CLOSED and outcome != action.outcome:
        raise Conflict(
            f"the action was closed ({action.outcome or 'no outcome'}); an action once closed stays closed",
            code="retention_action_closed",
            outcome=action.outcome,
        )
    changed = False
    if "note" in changes and changes["note"] != action.note:
        action.note, changed = changes["note"], True
    if outcome is not None and action.status != CLOSED:
        action.outcome = outcome
        action.status = CLOSED
        action.closed_at = utcnow()
        action.closed_by = principal.subject
        changed = True
    if changed:  # an empty or repeated change is no new version
        action.version += 1
        await session.flush()
    return read_model(row, principal)


async def close_on_purchase(session: Session, customer_id: uuid.UUID, *, order_id: uuid.UUID, at: datetime) -> None:
    """A purchase by a lost customer with an open win-back action (opened before it) wins them back."""
    await action_repo.close_won_back(
        session, customer_id, at=at, by=f"order:{order_id}", note="closed by a purchase after the action was opened"
    )
