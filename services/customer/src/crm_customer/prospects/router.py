from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from crm_chassis.db import SessionDep
from crm_chassis.identity import PrincipalDep
from crm_chassis.pagination import Page, PageDep
from crm_customer.prospects import service as prospect_service
from crm_customer.prospects.schemas import ProspectFilters, ProspectPriority

router = APIRouter(tags=["prospects"])


@router.get(
    "/prospects/priority",
    response_model=Page[ProspectPriority],
    summary="Prospects ranked by need, purchasing power, decision authority and contact recency",
)
async def list_prospect_priority(
    session: SessionDep, page: PageDep, filters: Annotated[ProspectFilters, Query()], principal: PrincipalDep
) -> Page[ProspectPriority]:
    return await prospect_service.priority(session, principal, filters=filters, limit=page.limit, cursor=page.cursor)
