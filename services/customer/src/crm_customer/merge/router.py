from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response

from crm_chassis.db import SessionDep
from crm_chassis.identity import PrincipalDep
from crm_chassis.pagination import decode_cursor, encode_cursor
from crm_customer.deps import CustomerDep, SettingsDep
from crm_customer.merge import duplicates
from crm_customer.merge import service as merge_service
from crm_customer.merge.schemas import DuplicatePage, MergeRead, MergeRequest

router = APIRouter(tags=["duplicates and merge"])


@router.get("/customers/duplicates", response_model=DuplicatePage, summary="Candidate duplicate pairs, best first")
async def list_duplicates(
    session: SessionDep,
    principal: PrincipalDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
    min_score: Annotated[float, Query(ge=0, le=1)] = 0.5,
) -> DuplicatePage:
    pairs = [p for p in await duplicates.candidate_pairs(session, principal) if p.score >= min_score]
    if cursor:
        score, a_id, b_id = decode_cursor(cursor, "duplicates", 3)
        pairs = [p for p in pairs if (-p.score, str(p.a_id), str(p.b_id)) > (-score, a_id, b_id)]
    page = pairs[:limit]
    next_cursor = None
    if len(pairs) > limit:
        last = page[-1]
        next_cursor = encode_cursor("duplicates", [last.score, str(last.a_id), str(last.b_id)])
    return DuplicatePage(items=page, next_cursor=next_cursor)


@router.post("/customers/{customer_id}/merge", status_code=201, response_model=MergeRead, summary="Merge a duplicate")
async def merge_customer(
    customer: CustomerDep,
    body: MergeRequest,
    session: SessionDep,
    settings: SettingsDep,
    principal: PrincipalDep,
    response: Response,
) -> MergeRead:
    record, conflicts = await merge_service.merge(
        session, survivor=customer, data=body, principal=principal, undo_hours=settings.merge_undo_hours
    )
    response.headers["Location"] = f"/merges/{record.id}"
    return MergeRead.model_validate(record).model_copy(update={"conflicts": conflicts})


@router.get("/merges/{merge_id}", response_model=MergeRead, summary="A merge and what it moved")
async def read_merge(merge_id: uuid.UUID, session: SessionDep, principal: PrincipalDep) -> MergeRead:
    return MergeRead.model_validate(await merge_service.get_merge(session, merge_id=merge_id, principal=principal))


@router.post("/merges/{merge_id}/undo", response_model=MergeRead, summary="Undo a merge within its window")
async def undo_merge(merge_id: uuid.UUID, session: SessionDep, principal: PrincipalDep) -> MergeRead:
    return MergeRead.model_validate(await merge_service.undo(session, merge_id=merge_id, principal=principal))
