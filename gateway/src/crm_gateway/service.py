"""Rules about user accounts: sign-in and the first administrator."""

from __future__ import annotations

import logging

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_gateway import repository as user_repository
from crm_gateway import security
from crm_gateway.config import DEFAULT_ADMIN_PASSWORD, Settings
from crm_gateway.models import Role, UserAccount

logger = logging.getLogger("crm.gateway.users")


async def authenticate(session: AsyncSession, *, email: str, password: str) -> UserAccount | None:
    """The active user with these credentials, or None; the same work is done whichever part is wrong."""
    user = await user_repository.get_by_email(session, email)
    if not security.verify_password(user.password_hash if user else None, password):
        return None
    assert user is not None
    if not user.is_active:
        return None
    if security.needs_rehash(user.password_hash):
        user.password_hash = security.hash_password(password)
    return user


async def create(
    session: AsyncSession, *, email: str, password: str, role: Role, name: str, is_active: bool = True
) -> UserAccount:
    return await user_repository.add(
        session,
        email=email,
        password_hash=security.hash_password(password),
        role=role,
        name=name,
        is_active=is_active,
    )


async def ensure_bootstrap_admin(sessionmaker: async_sessionmaker[AsyncSession], settings: Settings) -> None:
    """Create the first administrator unless an account with that email already exists."""
    email = settings.bootstrap_admin_email
    password = settings.bootstrap_admin_password.get_secret_value()
    async with sessionmaker() as session:
        if await user_repository.get_by_email(session, email) is not None:
            return
    if settings.environment == "production" and password == DEFAULT_ADMIN_PASSWORD:
        raise RuntimeError("set CRM_BOOTSTRAP_ADMIN_PASSWORD before the first production start")
    try:
        async with sessionmaker.begin() as session:
            await create(session, email=email, password=password, role=Role.admin, name="Administrator")
    except IntegrityError:
        # Another gateway replica created it at the same moment.
        return
    logger.info("bootstrap administrator created", extra={"email": email})
