from __future__ import annotations

import uuid

from fastapi import APIRouter, Response

from crm_chassis.db import SessionDep
from crm_chassis.pagination import Page, PageDep
from crm_scoring.access import CarerDep, RetentionReaderDep
from crm_scoring.reasons import service as reason_service
from crm_scoring.reasons.schemas import ChurnReasonCreate, ChurnReasonRead

router = APIRouter(prefix="/customers/{customer_id}/churn-reasons", tags=["retention"])


@router.post("", status_code=201, response_model=ChurnReasonRead, summary="Record why a customer left or is leaving")
async def create_churn_reason(
    customer_id: uuid.UUID, body: ChurnReasonCreate, session: SessionDep, principal: CarerDep, response: Response
) -> ChurnReasonRead:
    await reason_service.visible_customer(session, principal, customer_id)
    reason = await reason_service.record(session, customer_id=customer_id, data=body, actor=principal.subject)
    response.headers["Location"] = f"/customers/{customer_id}/churn-reasons"
    return ChurnReasonRead.model_validate(reason)


@router.get("", response_model=Page[ChurnReasonRead], summary="A customer's churn reasons, the latest first")
async def list_churn_reasons(
    customer_id: uuid.UUID, session: SessionDep, page: PageDep, principal: RetentionReaderDep
) -> Page[ChurnReasonRead]:
    await reason_service.visible_customer(session, principal, customer_id)
    found = await reason_service.list_page(session, customer_id, limit=page.limit, cursor=page.cursor)
    reasons = found.map(ChurnReasonRead.model_validate)
    if principal.role == "analyst":  # the codes are for analysis; the notes are text about a person
        reasons = reasons.map(lambda reason: reason.model_copy(update={"note": None}))
    return reasons
