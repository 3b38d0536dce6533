"""Sign-in lockout: too many failures for one account or from one address lock it for a while.

Counted per key whether or not the account exists, so that a locked answer says nothing about
which emails have accounts. Kept in the database, so that every replica applies the same lock.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from crm_chassis.db import utcnow
from crm_gateway.auth import repository as auth_repository
from crm_gateway.auth.models import LoginFailure
from crm_gateway.config import Settings
from crm_gateway.db import IntegrityError, Sessionmaker


def keys(email: str, address: str | None) -> dict[str, int]:
    """Each counter a sign-in attempt counts against, with the setting that caps it."""
    return {f"account:{email.strip().lower()}": 0, f"address:{address or 'unknown'}": 1}


def _limits(settings: Settings) -> tuple[int, int]:
    return settings.login_max_failures_per_account, settings.login_max_failures_per_address


async def locked_for(sessionmaker: Sessionmaker, email: str, address: str | None) -> int:
    """Seconds until these credentials may be tried again; 0 when they may be tried now."""
    now = utcnow()
    async with sessionmaker() as session:
        rows = await auth_repository.lockouts(session, keys(email, address))
    until = max((row for row in rows if row is not None and row > now), default=None)
    return 0 if until is None else max(1, math.ceil((until - now).total_seconds()))


async def record_failure(sessionmaker: Sessionmaker, settings: Settings, email: str, address: str | None) -> None:
    now = utcnow()
    window = timedelta(seconds=settings.login_failure_window_seconds)
    for key, which in keys(email, address).items():
        try:
            async with sessionmaker.begin() as session:
                row = await auth_repository.failure_counter(session, key, now=now)
                _count(row, now, window, _limits(settings)[which], settings.login_lockout_seconds)
        except IntegrityError:
            # Another attempt created the row at the same moment; counting one failure less is harmless.
            continue


def _count(row: LoginFailure, now: datetime, window: timedelta, limit: int, lockout_seconds: int) -> None:
    if now - row.window_started_at > window:
        row.failures, row.window_started_at = 0, now
    row.failures += 1
    if row.failures >= limit:
        row.locked_until = now + timedelta(seconds=lockout_seconds)
        row.failures, row.window_started_at = 0, now


async def record_success(sessionmaker: Sessionmaker, email: str) -> None:
    """The account's own counter starts again; the address's does not, so that one known password
    cannot be used to keep guessing others from the same place."""
    async with sessionmaker.begin() as session:
        await auth_repository.delete_failure_counter(session, f"account:{email.strip().lower()}")
