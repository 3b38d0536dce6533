from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from crm_chassis.db import SessionDep
from crm_chassis.etag import etag_for, not_modified, require_if_match
from crm_chassis.identity import PrincipalDep
from crm_chassis.pagination import Page, PageDep
from crm_customer.deps import CustomerDep
from crm_customer.interactions import service as interaction_service
from crm_customer.interactions.models import Interaction
from crm_customer.interactions.schemas import (
    InteractionCreate,
    InteractionFields,
    InteractionFilters,
    InteractionRead,
    InteractionUpdate,
)

router = APIRouter(tags=["interactions"])


async def valid_interaction(interaction_id: uuid.UUID, session: SessionDep, principal: PrincipalDep) -> Interaction:
    return await interaction_service.get(session, interaction_id=interaction_id, principal=principal)


InteractionDep = Annotated[Interaction, Depends(valid_interaction)]


def _read(item: Interaction, response: Response) -> InteractionRead:
    response.headers["ETag"] = etag_for(item.version)
    response.headers["Location"] = f"/interactions/{item.id}"
    return InteractionRead.model_validate(item)


@router.post("/interactions", status_code=201, response_model=InteractionRead, summary="Log a contact")
async def log_interaction(
    body: InteractionCreate, session: SessionDep, principal: PrincipalDep, response: Response
) -> InteractionRead:
    return _read(await interaction_service.log(session, data=body, principal=principal), response)


@router.post(
    "/customers/{customer_id}/interactions",
    status_code=201,
    response_model=InteractionRead,
    summary="Log a contact with this customer",
)
async def log_customer_interaction(
    customer: CustomerDep,
    body: InteractionFields,
    session: SessionDep,
    principal: PrincipalDep,
    response: Response,
) -> InteractionRead:
    data = InteractionCreate(customer_id=customer.id, **body.model_dump())
    return _read(await interaction_service.log(session, data=data, principal=principal), response)


@router.get("/interactions", response_model=Page[InteractionRead], summary="The contact log, newest first")
async def list_interactions(
    session: SessionDep, page: PageDep, filters: Annotated[InteractionFilters, Query()], principal: PrincipalDep
) -> Page[InteractionRead]:
    found = await interaction_service.list_page(
        session, filters=filters, limit=page.limit, cursor=page.cursor, principal=principal
    )
    return found.map(InteractionRead.model_validate)


@router.get(
    "/customers/{customer_id}/interactions",
    response_model=Page[InteractionRead],
    summary="A customer's contacts",
)
async def list_customer_interactions(
    customer: CustomerDep,
    session: SessionDep,
    page: PageDep,
    filters: Annotated[InteractionFilters, Query()],
    principal: PrincipalDep,
) -> Page[InteractionRead]:
    filters = filters.model_copy(update={"customer_id": customer.id})
    found = await interaction_service.list_page(
        session, filters=filters, limit=page.limit, cursor=page.cursor, principal=principal
    )
    return found.map(InteractionRead.model_validate)


@router.get("/interactions/{interaction_id}", response_model=InteractionRead, summary="Read a contact")
async def read_interaction(item: InteractionDep, request: Request, response: Response) -> InteractionRead | Response:
    cached = not_modified(request, etag_for(item.version))
    return cached if cached is not None else _read(item, response)


@router.patch("/interactions/{interaction_id}", response_model=InteractionRead, summary="Change a contact (If-Match)")
async def update_interaction(
    item: InteractionDep, body: InteractionUpdate, request: Request, response: Response, session: SessionDep
) -> InteractionRead:
    require_if_match(request, etag_for(item.version))
    return _read(await interaction_service.update(session, item=item, data=body), response)


@router.post(
    "/interactions/{interaction_id}/follow-up/done",
    response_model=InteractionRead,
    summary="Mark a contact's follow-up done (If-Match); it leaves the due lists",
)
async def complete_follow_up(
    item: InteractionDep, request: Request, response: Response, session: SessionDep, principal: PrincipalDep
) -> InteractionRead:
    require_if_match(request, etag_for(item.version))
    return _read(await interaction_service.complete_follow_up(session, item=item, principal=principal), response)


@router.delete("/interactions/{interaction_id}", status_code=204, summary="Soft-delete a contact (If-Match)")
async def delete_interaction(item: InteractionDep, request: Request, session: SessionDep) -> Response:
    require_if_match(request, etag_for(item.version))
    await interaction_service.delete(session, item=item)
    return Response(status_code=204)
