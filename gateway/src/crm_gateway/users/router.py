"""`/api/v1/users`: admins create, list, read, change and disable accounts."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from crm_chassis.errors import Unprocessable
from crm_chassis.etag import etag_for, not_modified, require_if_match
from crm_chassis.identity import Principal
from crm_chassis.pagination import PageDep
from crm_gateway.auth.principals import AuthorisedDep
from crm_gateway.config import PUBLIC_PREFIX, SettingsDep
from crm_gateway.db import SessionDep
from crm_gateway.users import handover
from crm_gateway.users import repository as user_repository
from crm_gateway.users import service as user_service
from crm_gateway.users.models import Role, UserAccount
from crm_gateway.users.schemas import UserCreate, UserDetail, UserName, UserNamePage, UserPage, UserUpdate

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
    found = await user_repository.list_page(
        session, limit=page.limit, cursor=page.cursor, role=role, manager_id=manager_id, is_active=is_active
    )
    return UserPage(
        items=[UserDetail.model_validate(u, from_attributes=True) for u in found.items],
        next_cursor=found.next_cursor,
        total=found.total,
    )


LOOKUP_MAX = 200


@router.get("/lookup", response_model=UserNamePage, summary="Names of users by id, for any signed-in person")
async def lookup_users(
    session: SessionDep,
    principal: AuthorisedDep,
    ids: Annotated[
        list[str],
        Query(description="user ids, comma-separated or repeated (at most 200)", max_length=LOOKUP_MAX),
    ],
) -> UserNamePage:
    """Who `owner_id`, `changed_by` or `assignee_id` in a record is: names only, no email or role."""
    wanted: list[uuid.UUID] = []
    for part in (piece.strip() for value in ids for piece in value.split(",")):
        try:
            wanted.append(uuid.UUID(part))
        except ValueError:
            raise Unprocessable.field("query.ids", "uuid_parsing", f"not a user id: {part[:64]!r}") from None
    if len(wanted) > LOOKUP_MAX:
        raise Unprocessable.field("query.ids", "too_long", f"at most {LOOKUP_MAX} ids")
    found = await user_repository.names_of(session, wanted)
    return UserNamePage(items=[UserName(id=user_id, name=name) for user_id, name in found])


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


ReassignTo = Annotated[
    uuid.UUID | None,
    Query(description="when disabling: the active agent or manager who takes over the user's customers first"),
]
HandOverReason = Annotated[
    str | None, Query(min_length=1, max_length=500, description="kept in each handed-over customer's owner history")
]


async def _before_disabling(
    request: Request, principal: Principal, user_id: uuid.UUID, reassign_to: uuid.UUID | None, reason: str | None
) -> UserAccount:
    """The account as it stands; if it is active, its customers are handed over (or counted) first.

    Read in a short session of its own: the request's transaction is not held open while the
    customer service works.
    """
    async with request.app.state.read_sessionmaker() as read:
        user = await user_service.get(read, user_id)
    if user.is_active:
        await handover.clear_customers(request, principal, user_id, reassign_to, reason)
    return user


@router.patch(
    "/{user_id}",
    response_model=UserDetail,
    responses={409: {"description": "`user_owns_customers`: disabling a user who still owns customers"}},
)
async def update_user(
    user_id: uuid.UUID,
    body: UserUpdate,
    request: Request,
    response: Response,
    session: SessionDep,
    principal: AuthorisedDep,
    reassign_to: ReassignTo = None,
    reason: HandOverReason = None,
) -> UserAccount:
    """Change role, name, team or status (If-Match required). Disabling ends the user's sessions, and is
    refused while the user owns customers unless `reassign_to` names who takes them over first."""
    changes = body.model_dump(exclude_unset=True)
    for field in _NOT_NULL:
        if field in changes and changes[field] is None:
            raise Unprocessable.field(field, "null_not_allowed", "may not be null")
    if changes.get("is_active") is False:
        before = await _before_disabling(request, principal, user_id, reassign_to, reason)
        require_if_match(request, etag_for(before.version))
    user = await user_service.get(session, user_id)
    require_if_match(request, etag_for(user.version))
    user = await user_service.update(session, user, actor_id=principal.subject, changes=changes)
    response.headers["ETag"] = etag_for(user.version)
    return user


@router.delete(
    "/{user_id}",
    status_code=204,
    responses={409: {"description": "`user_owns_customers`: the user still owns customers (`customers`: how many)"}},
)
async def disable_user(
    user_id: uuid.UUID,
    request: Request,
    session: SessionDep,
    principal: AuthorisedDep,
    reassign_to: ReassignTo = None,
    reason: HandOverReason = None,
) -> Response:
    """Disable an account (it is kept for the audit trail): its tokens stop working at once. A user who
    still owns customers is refused (409) unless `reassign_to` names who takes them over first."""
    await _before_disabling(request, principal, user_id, reassign_to, reason)
    user = await user_service.get(session, user_id)
    if user.is_active:
        await user_service.update(session, user, actor_id=principal.subject, changes={"is_active": False})
    return Response(status_code=204)
