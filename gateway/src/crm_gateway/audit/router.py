"""`GET /api/v1/audit`: the audit log for admins, newest first, filterable."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from crm_chassis.dates import Instant
from crm_chassis.pagination import PageDep
from crm_gateway.audit import repository as audit_repository
from crm_gateway.audit.schemas import AuditPage, AuditRead
from crm_gateway.auth.principals import AuthorisedDep
from crm_gateway.config import PUBLIC_PREFIX
from crm_gateway.db import SessionDep

router = APIRouter(prefix=PUBLIC_PREFIX + "/audit", tags=["audit"])


@router.get("", response_model=AuditPage)
async def list_audit_events(
    session: SessionDep,
    principal: AuthorisedDep,
    page: PageDep,
    principal_id: Annotated[str | None, Query(max_length=200, description="user id or API key id")] = None,
    path_prefix: Annotated[str | None, Query(max_length=2048, description="e.g. /api/v1/customers")] = None,
    personal_data: bool | None = None,
    occurred_from: Annotated[Instant | None, Query(alias="occurred_after", description="from this instant on")] = None,
    occurred_to: Annotated[Instant | None, Query(alias="occurred_before", description="before this instant")] = None,
) -> AuditPage:
    """Calls through the gateway: who, what, when, from where, with what status."""
    found = await audit_repository.list_page(
        session,
        limit=page.limit,
        cursor=page.cursor,
        principal_id=principal_id,
        path_prefix=path_prefix,
        personal_data=personal_data,
        occurred_from=occurred_from,
        occurred_to=occurred_to,
    )
    return AuditPage(
        items=[AuditRead.model_validate(item) for item in found.items], next_cursor=found.next_cursor, total=found.total
    )
