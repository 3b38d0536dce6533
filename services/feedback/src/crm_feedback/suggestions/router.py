from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from crm_chassis.db import SessionDep
from crm_chassis.errors import NotFound, Unprocessable
from crm_chassis.etag import etag_for, not_modified, require_if_match
from crm_chassis.identity import PrincipalDep
from crm_chassis.pagination import Page, PageDep
from crm_feedback import access
from crm_feedback.common.deps import created
from crm_feedback.suggestions import service as suggestion_service
from crm_feedback.suggestions.models import Suggestion
from crm_feedback.suggestions.schemas import (
    SuggestionCreate,
    SuggestionFilters,
    SuggestionRead,
    SuggestionUpdate,
)

router = APIRouter(prefix="/suggestions", tags=["suggestions"])


async def valid_suggestion(suggestion_id: uuid.UUID, session: SessionDep, principal: PrincipalDep) -> Suggestion:
    suggestion = await suggestion_service.get(session, suggestion_id=suggestion_id)
    if not await access.can_see_record(session, principal, suggestion.customer_id, suggestion.created_by):
        raise NotFound(f"suggestion {suggestion_id} does not exist", code="suggestion_not_found")
    return suggestion


SuggestionDep = Annotated[Suggestion, Depends(valid_suggestion)]


def _read(suggestion: Suggestion, response: Response) -> SuggestionRead:
    response.headers["ETag"] = etag_for(suggestion.version)
    return SuggestionRead.model_validate(suggestion)


@router.post("", status_code=201, response_model=SuggestionRead, summary="Record a suggestion")
async def create_suggestion(
    body: SuggestionCreate, session: SessionDep, principal: PrincipalDep, response: Response
) -> SuggestionRead:
    if body.customer_id is not None and not await access.can_see_customer(session, principal, body.customer_id):
        raise Unprocessable.field("customer_id", "unknown_customer", f"no active customer {body.customer_id}")
    suggestion = await suggestion_service.create(session, data=body, actor=principal.subject)
    created(response, f"/suggestions/{suggestion.id}", suggestion.version)
    return SuggestionRead.model_validate(suggestion)


@router.get("", response_model=Page[SuggestionRead], summary="List suggestions")
async def list_suggestions(
    session: SessionDep,
    page: PageDep,
    principal: PrincipalDep,
    filters: Annotated[SuggestionFilters, Query()],
) -> Page[SuggestionRead]:
    found = await suggestion_service.list_page(
        session, filters=filters, limit=page.limit, cursor=page.cursor, principal=principal
    )
    return found.map(SuggestionRead.model_validate)


@router.get("/{suggestion_id}", response_model=SuggestionRead, summary="Read a suggestion")
async def read_suggestion(suggestion: SuggestionDep, request: Request, response: Response) -> SuggestionRead | Response:
    cached = not_modified(request, etag_for(suggestion.version))
    return cached if cached is not None else _read(suggestion, response)


@router.patch("/{suggestion_id}", response_model=SuggestionRead, summary="Review, decide, reply (If-Match)")
async def update_suggestion(
    suggestion: SuggestionDep,
    body: SuggestionUpdate,
    request: Request,
    response: Response,
    session: SessionDep,
    principal: PrincipalDep,
) -> SuggestionRead:
    require_if_match(request, etag_for(suggestion.version))
    updated = await suggestion_service.update(session, suggestion=suggestion, data=body, actor=principal.subject)
    return _read(updated, response)


@router.delete("/{suggestion_id}", status_code=204, summary="Delete a suggestion (If-Match)")
async def delete_suggestion(suggestion: SuggestionDep, request: Request, session: SessionDep) -> Response:
    require_if_match(request, etag_for(suggestion.version))
    await suggestion_service.delete(session, suggestion=suggestion)
    return Response(status_code=204)
