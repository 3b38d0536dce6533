"""Every query on user accounts."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_gateway.models import Role, UserAccount


async def get_by_email(session: AsyncSession, email: str) -> UserAccount | None:
    result = await session.execute(select(UserAccount).where(UserAccount.email == email.strip().lower()))
    return result.scalar_one_or_none()


async def get_by_id(session: AsyncSession, user_id: uuid.UUID) -> UserAccount | None:
    return await session.get(UserAccount, user_id)


async def add(
    session: AsyncSession, *, email: str, password_hash: str, role: Role, name: str, is_active: bool = True
) -> UserAccount:
    user = UserAccount(
        email=email.strip().lower(), password_hash=password_hash, role=role, name=name, is_active=is_active
    )
    session.add(user)
    await session.flush()
    return user
