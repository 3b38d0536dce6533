"""`/api/v1/users`: admins create, list, read, change and disable accounts."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from crm_chassis.errors import Unprocessable
from crm_chassis.etag import etag_for, not_modified, require_if_match
from crm_chassis.pagination import PageDep
from crm_gateway import repository as user_repository
from crm_gateway import service as user_service
from crm_gateway.config import SettingsDep
from crm_gateway.db import SessionDep
from crm_gateway.models import Role, UserAccount
from crm_gateway.principals import AuthorisedDep
from crm_gateway.routing import PUBLIC_PREFIX
from crm_gateway.schemas import UserCreate, UserDetail, UserPage, UserUpdate

router = APIRouter(prefix=PUBLIC_PREFIX + "/users", tags=["users"])
_NOT_NULL = ("role", "name", "is_active")


@router.post("", status_code=201, response_model=UserDetail)
async def create_user(
    body: UserCreate, session: SessionDep, settings: SettingsDep, principal: AuthorisedDep, response: Response
) -> UserAccount:
    """Create an account. An agent may name the manager whose team they join."""
    user_service.check_password(body.password, email=body.email, settings=settings)
    user = await user_service.create(
        session,
        email=body.email,
        password=body.password,
        role=body.role,
        name=body.name,
        manager_id=body.manager_id,
    )
    response.headers["Location"] = f"{router.prefix}/{user.id}"
    response.headers["ETag"] = etag_for(user.version)
    return user


@router.get("", response_model=UserPage)
async def list_users(
    session: SessionDep,
    principal: AuthorisedDep,
    page: PageDep,
    role: Role | None = None,
    manager_id: uuid.UUID | None = None,
    is_active: Annotated[bool | None, Query()] = None,
) -> UserPage:
    items, next_cursor = await user_repository.list_page(
        session, limit=page.limit, cursor=page.cursor, role=role, manager_id=manager_id, is_active=is_active
    )
    return UserPage(items=[UserDetail.model_validate(u, from_attributes=True) for u in items], next_cursor=next_cursor)


@router.get("/{user_id}", response_model=UserDetail, responses={304: {"description": "Not modified"}})
async def read_user(
    user_id: uuid.UUID, request: Request, response: Response, session: SessionDep, principal: AuthorisedDep
) -> UserAccount | Response:
    user = await user_service.get(session, user_id)
    etag = etag_for(user.version)
    if (unchanged := not_modified(request, etag)) is not None:
        return unchanged
    response.headers["ETag"] = etag
    return user


@router.patch("/{user_id}", response_model=UserDetail)
async def update_user(
    user_id: uuid.UUID,
    body: UserUpdate,
    request: Request,
    response: Response,
    session: SessionDep,
    principal: AuthorisedDep,
) -> UserAccount:
    """Change role, name, team or status (If-Match required). Disabling ends the user's sessions."""
    changes = body.model_dump(exclude_unset=True)
    for field in _NOT_NULL:
        if field in changes and changes[field] is None:
            raise Unprocessable.field(field, "null_not_allowed", "may not be null")
    user = await user_service.get(session, user_id)
    require_if_match(request, etag_for(user.version))
    user = await user_service.update(session, user, actor_id=principal.subject, changes=changes)
    response.headers["ETag"] = etag_for(user.version)
    return user


@router.delete("/{user_id}", status_code=204)
async def disable_user(user_id: uuid.UUID, session: SessionDep, principal: AuthorisedDep) -> Response:
    """Disable an account (it is kept for the audit trail): its tokens stop working at once."""
    user = await user_service.get(session, user_id)
    if user.is_active:
        await user_service.update(session, user, actor_id=principal.subject, changes={"is_active": False})
    return Response(status_code=204)
