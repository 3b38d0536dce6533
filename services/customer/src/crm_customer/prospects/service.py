"""Which prospects to approach first (DOMAIN.md §1: need, purchasing power, decision authority)."""

from __future__ import annotations

from typing import Any

from crm_chassis.db import utcnow
from crm_chassis.errors import Forbidden
from crm_chassis.identity import Principal, visible_owners
from crm_chassis.pagination import Page
from crm_customer.db import Session
from crm_customer.prospects import repository as prospect_repo
from crm_customer.prospects import scoring
from crm_customer.prospects.schemas import ProspectFilters, ProspectPriority


def _item(row: Any, as_of: Any) -> ProspectPriority:
    days = None if row.last_at is None else (as_of - row.last_at).total_seconds() / 86400
    return ProspectPriority(
        rank=row.rank,
        score=row.score,
        reasons=scoring.reasons(
            need_level=row.need_level,
            purchasing_power=row.purchasing_power,
            authority=row.has_purchase_authority,
            days_since_contact=days,
        ),
        customer_id=row.id,
        name=row.name,
        owner_id=row.owner_id,
        need_level=row.need_level,
        purchasing_power=row.purchasing_power,
        has_purchase_authority=row.has_purchase_authority,
        last_contact_at=row.last_at,
    )


async def priority(
    session: Session, principal: Principal, *, filters: ProspectFilters, limit: int, cursor: str | None
) -> Page[ProspectPriority]:
    owners = visible_owners(principal)
    if owners is not None and filters.owner_id is not None and filters.owner_id not in owners:
        raise Forbidden("an account manager sees their own (or their team's) prospects only")
    as_of = filters.as_of or utcnow()
    found = await prospect_repo.ranked(
        session, principal, owner_id=filters.owner_id, as_of=as_of, limit=limit, cursor=cursor
    )
    return found.map(lambda row: _item(row, as_of))
