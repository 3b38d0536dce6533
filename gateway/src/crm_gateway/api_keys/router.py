"""`/api/v1/api-keys`: admins issue, list and revoke partner keys."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response

from crm_chassis.pagination import PageDep
from crm_gateway.api_keys import repository as api_key_repository
from crm_gateway.api_keys import service as api_key_service
from crm_gateway.api_keys.models import ApiKey
from crm_gateway.api_keys.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyPage, ApiKeyRead
from crm_gateway.auth.principals import AuthorisedDep, actor_id
from crm_gateway.config import PUBLIC_PREFIX
from crm_gateway.db import SessionDep

router = APIRouter(prefix=PUBLIC_PREFIX + "/api-keys", tags=["api-keys"])


@router.post("", status_code=201, response_model=ApiKeyCreated)
async def create_api_key(
    body: ApiKeyCreate, session: SessionDep, principal: AuthorisedDep, response: Response
) -> ApiKeyCreated:
    """Issue a key. The secret is in `key` in this response only: it is stored hashed."""
    key, secret = await api_key_service.create(session, body, created_by=actor_id(principal))
    response.headers["Location"] = f"{router.prefix}/{key.id}"
    return ApiKeyCreated(**ApiKeyRead.model_validate(key).model_dump(), key=secret)


@router.get("", response_model=ApiKeyPage)
async def list_api_keys(session: SessionDep, principal: AuthorisedDep, page: PageDep) -> ApiKeyPage:
    found = await api_key_repository.list_page(session, limit=page.limit, cursor=page.cursor)
    return ApiKeyPage(
        items=[ApiKeyRead.model_validate(k) for k in found.items], next_cursor=found.next_cursor, total=found.total
    )


@router.get("/{key_id}", response_model=ApiKeyRead)
async def read_api_key(key_id: uuid.UUID, session: SessionDep, principal: AuthorisedDep) -> ApiKey:
    return await api_key_service.get(session, key_id)


@router.delete("/{key_id}", status_code=204)
async def revoke_api_key(key_id: uuid.UUID, session: SessionDep, principal: AuthorisedDep) -> Response:
    """Revoke a key: it stops working at once, and stays listed with `revoked_at`."""
    await api_key_service.revoke(session, key_id)
    return Response(status_code=204)
