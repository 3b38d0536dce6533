"""Rules about user accounts: the first administrator, password strength, and what admins may change."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from crm_chassis.errors import Conflict, NotFound, Unprocessable
from crm_gateway.auth import refresh_tokens, security
from crm_gateway.config import DEFAULT_ADMIN_PASSWORD, Settings
from crm_gateway.db import IntegrityError, Session, Sessionmaker
from crm_gateway.users import events as user_events
from crm_gateway.users import repository as user_repository
from crm_gateway.users.models import Role, UserAccount

logger = logging.getLogger("crm.gateway.users")


async def create(
    session: Session,
    *,
    email: str,
    password: str,
    role: Role,
    name: str,
    is_active: bool = True,
    manager_id: uuid.UUID | None = None,
) -> UserAccount:
    if await user_repository.get_by_email(session, email) is not None:
        raise Conflict("a user with this email already exists", code="email_taken")
    await _check_manager(session, role, manager_id)
    try:
        user = await user_repository.add(
            session,
            email=email,
            password_hash=security.hash_password(password),
            role=role,
            name=name,
            is_active=is_active,
            manager_id=manager_id,
        )
    except IntegrityError as exc:  # the same email, created by a concurrent request
        raise Conflict("a user with this email already exists", code="email_taken") from exc
    await user_events.publish(session, user_events.USER_CREATED, user)
    return user


def check_password(password: str, *, email: str, settings: Settings) -> None:
    weakness = security.password_weakness(
        password, email=email, min_length=settings.password_min_length, min_score=settings.password_min_score
    )
    if weakness:
        raise Unprocessable.field("password", "weak_password", f"the password {weakness}")


async def get(session: Session, user_id: uuid.UUID) -> UserAccount:
    user = await user_repository.get_by_id(session, user_id)
    if user is None:
        raise NotFound(f"user {user_id} does not exist", code="user_not_found")
    return user


async def update(session: Session, user: UserAccount, *, actor_id: str, changes: dict[str, Any]) -> UserAccount:
    """Apply an admin's changes; disabling an account also ends all of its sessions."""
    role = changes.get("role", user.role)
    manager_id = changes.get("manager_id", user.manager_id)
    still_admin = role == Role.admin and changes.get("is_active", user.is_active)
    if user.role == Role.admin and user.is_active and not still_admin:
        if str(user.id) == actor_id:
            raise Conflict("you cannot remove your own administrator access", code="self_lockout")
        if await user_repository.count_active_admins(session) <= 1:
            raise Conflict("the last active administrator cannot be removed", code="last_admin")
    if role != Role.agent and "role" in changes and "manager_id" not in changes:
        manager_id = None  # only agents report to a manager
    await _check_manager(session, role, manager_id, user_id=user.id)
    was_active = user.is_active
    before = user_events.snapshot(user)
    for field, value in changes.items():
        setattr(user, field, value)
    user.manager_id = manager_id
    user.version += 1
    if not user.is_active:
        await refresh_tokens.revoke_for_user(session, user.id)
    await session.flush()
    after = user_events.snapshot(user)
    changed = sorted(name for name in after if after[name] != before[name])
    if was_active and not user.is_active:
        await user_events.publish(session, user_events.USER_DISABLED, user, changed=changed)
    elif changed:
        await user_events.publish(session, user_events.USER_UPDATED, user, changed=changed)
    return user


async def _check_manager(
    session: Session, role: Role, manager_id: uuid.UUID | None, user_id: uuid.UUID | None = None
) -> None:
    if manager_id is None:
        return
    if role != Role.agent:
        raise Unprocessable.field("manager_id", "not_an_agent", "only agents report to a manager")
    manager = await user_repository.get_by_id(session, manager_id)
    if manager is None or manager.id == user_id or manager.role != Role.manager or not manager.is_active:
        raise Unprocessable.field("manager_id", "not_a_manager", "must be the id of an active manager")


async def ensure_bootstrap_admin(sessionmaker: Sessionmaker, settings: Settings) -> None:
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
    except (IntegrityError, Conflict):
        # Another gateway replica created it at the same moment.
        return
    logger.info("bootstrap administrator created", extra={"email": email})
