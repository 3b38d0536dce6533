"""Who may see what: agents their own customers, analysts aggregates, partners by scope."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Request

from crm_chassis.errors import Forbidden
from crm_chassis.identity import Principal, get_principal, visible_owners
from crm_scoring.config import Settings

MANAGERS = frozenset({"admin", "manager", "service"})


def _scoped(principal: Principal, scope: str) -> bool:
    return principal.kind != "api_key" or scope in principal.scopes


async def reader(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
    """Score cards and lists: every role (analysts read scores for analysis, as docs/security.md
    says), and partners with `scores:read`."""
    if principal.kind == "api_key":
        if "scores:read" not in principal.scopes:
            raise Forbidden("this API key lacks the scores:read scope", code="missing_scope")
        return principal
    if principal.role not in {*MANAGERS, "agent", "analyst"}:
        raise Forbidden("reading customer scores needs a staff role")
    return principal


async def carer(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
    """Who to contact next: the people who do the contacting (agents, managers, admins)."""
    if principal.kind == "api_key" or principal.role not in {*MANAGERS, "agent"}:
        raise Forbidden("the care list needs the agent, manager or admin role")
    return principal


async def retention_reader(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
    """Retention actions and churn reasons: the people who act on them (agents their own customers',
    managers their team's) and analysts; no partner key."""
    if principal.kind == "api_key" or principal.role not in {*MANAGERS, "agent", "analyst"}:
        raise Forbidden("retention actions need the agent, manager, admin or analyst role")
    return principal


async def analyst(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
    """Aggregates and the model: managers, admins and analysts (and partners with `analytics:read`,
    the scope the gateway opens aggregate analytics with)."""
    if principal.kind == "api_key" and _scoped(principal, "analytics:read"):
        return principal
    if principal.role not in {*MANAGERS, "analyst"}:
        raise Forbidden("aggregates need the analyst, manager or admin role")
    return principal


async def manager(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
    if principal.kind == "api_key" or principal.role not in MANAGERS:
        raise Forbidden("this action needs the manager or admin role")
    return principal


async def admin(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
    if principal.kind == "api_key" or not principal.is_admin:
        raise Forbidden("changing scoring settings needs the admin role")
    return principal


def own_customers_only(principal: Principal) -> frozenset[uuid.UUID] | None:
    """The owners whose customers an agent (their own) or a manager (their team's) may see; None: all."""
    if principal.kind != "user":
        return None
    return visible_owners(principal)


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


ReaderDep = Annotated[Principal, Depends(reader)]
CarerDep = Annotated[Principal, Depends(carer)]
RetentionReaderDep = Annotated[Principal, Depends(retention_reader)]
AnalystDep = Annotated[Principal, Depends(analyst)]
ManagerDep = Annotated[Principal, Depends(manager)]
AdminDep = Annotated[Principal, Depends(admin)]
