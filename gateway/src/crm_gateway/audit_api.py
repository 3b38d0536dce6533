"""`GET /api/v1/audit`: the audit log for admins, newest first, filterable."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import AwareDatetime
from sqlalchemy import select

from crm_chassis.pagination import PageDep, paginate
from crm_gateway.db import SessionDep
from crm_gateway.models import AuditEvent
from crm_gateway.principals import AuthorisedDep
from crm_gateway.routing import PUBLIC_PREFIX
from crm_gateway.schemas import AuditPage, AuditRead

router = APIRouter(prefix=PUBLIC_PREFIX + "/audit", tags=["audit"])


@router.get("", response_model=AuditPage)
async def list_audit_events(
    session: SessionDep,
    principal: AuthorisedDep,
    page: PageDep,
    principal_id: Annotated[str | None, Query(max_length=200, description="user id or API key id")] = None,
    path_prefix: Annotated[str | None, Query(max_length=2048, description="e.g. /api/v1/customers")] = None,
    personal_data: bool | None = None,
    occurred_from: Annotated[AwareDatetime | None, Query(alias="from")] = None,
    occurred_to: Annotated[AwareDatetime | None, Query(alias="to")] = None,
) -> AuditPage:
    """Calls through the gateway: who, what, when, from where, with what status."""
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
    items, next_cursor = await paginate(session, stmt, [(AuditEvent.seq, True)], "seq", page.limit, page.cursor)
    return AuditPage(items=[AuditRead.model_validate(item) for item in items], next_cursor=next_cursor)
