"""Every query on user accounts."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_chassis.pagination import Page, paginate
from crm_gateway.users.models import Role, UserAccount


async def get_by_email(session: AsyncSession, email: str) -> UserAccount | None:
    result = await session.execute(select(UserAccount).where(UserAccount.email == email.strip().lower()))
    return result.scalar_one_or_none()


async def get_by_id(session: AsyncSession, user_id: uuid.UUID) -> UserAccount | None:
    return await session.get(UserAccount, user_id)


async def add(
    session: AsyncSession,
    *,
    email: str,
    password_hash: str,
    role: Role,
    name: str,
    is_active: bool = True,
    manager_id: uuid.UUID | None = None,
) -> UserAccount:
    user = UserAccount(
        email=email.strip().lower(),
        password_hash=password_hash,
        role=role,
        name=name,
        is_active=is_active,
        manager_id=manager_id,
    )
    session.add(user)
    await session.flush()
    return user


async def team_of(session: AsyncSession, manager_id: uuid.UUID) -> list[uuid.UUID]:
    """The active agents who report to a manager."""
    result = await session.scalars(
        select(UserAccount.id).where(
            UserAccount.manager_id == manager_id, UserAccount.role == Role.agent, UserAccount.is_active.is_(True)
        )
    )
    return list(result.all())


async def count_active_admins(session: AsyncSession) -> int:
    result = await session.scalar(
        select(func.count()).where(UserAccount.role == Role.admin, UserAccount.is_active.is_(True))
    )
    return int(result or 0)


async def list_page(
    session: AsyncSession,
    *,
    limit: int,
    cursor: str | None,
    role: Role | None = None,
    manager_id: uuid.UUID | None = None,
    is_active: bool | None = None,
) -> Page[UserAccount]:
    stmt = select(UserAccount)
    if role is not None:
        stmt = stmt.where(UserAccount.role == role)
    if manager_id is not None:
        stmt = stmt.where(UserAccount.manager_id == manager_id)
    if is_active is not None:
        stmt = stmt.where(UserAccount.is_active.is_(is_active))
    order = [(UserAccount.created_at, False), (UserAccount.id, False)]
    return await paginate(session, stmt, order, "created", limit, cursor)


async def names_of(session: AsyncSession, ids: list[uuid.UUID]) -> list[tuple[uuid.UUID, str]]:
    """The id and name of each account among `ids` (disabled ones too: their records remain)."""
    rows = await session.execute(
        select(UserAccount.id, UserAccount.name).where(UserAccount.id.in_(ids)).order_by(UserAccount.id)
    )
    return [(row.id, row.name) for row in rows]
