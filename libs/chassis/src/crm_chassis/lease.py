"""A leader lease: a service's background workers run in one replica at a time.

On PostgreSQL the lease is a session-level advisory lock held on a connection of its own (outside
the service's pool). The holder checks that connection every `check_seconds`; when the process
dies, the server drops the connection and the lock with it, and a standby replica, trying every
`check_seconds`, takes over. When the holder loses its connection it stops its workers at once,
so two replicas overlap at most for one check interval; every worker's effect is exactly-once
anyway (consumers deduplicate by event id in the transaction that applies an event), so an
overlap costs duplicate work, never a duplicate effect.

SQLite has one writer and no lock server: it is single-replica, and `hold_lease` says so once at
start-up and runs the workers directly.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine
from sqlalchemy.pool import NullPool

from crm_chassis.db import normalise_url

logger = logging.getLogger("crm.lease")

Work = Callable[[], list[Coroutine[Any, Any, None]]]


def lease_key(name: str) -> int:
    """A stable signed 64-bit advisory-lock key for a lease name."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


async def _run_workers(coroutines: list[Coroutine[Any, Any, None]]) -> None:
    tasks = [asyncio.create_task(c) for c in coroutines]
    try:
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def hold_lease(database_url: str, name: str, work: Work, *, check_seconds: float = 2.0) -> None:
    """Run `work()`'s coroutines while this process holds the lease `name`; until cancelled."""
    url = normalise_url(database_url)
    if not url.startswith("postgresql"):
        # SQLite: one process is the only replica there can be (the service says so at start-up).
        await _run_workers(work())
        return
    engine = create_async_engine(url, poolclass=NullPool)
    key = lease_key(name)
    standing_by = False
    try:
        while True:
            try:
                async with engine.connect() as conn:
                    held = bool(await conn.scalar(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}))
                    await conn.commit()
                    if held:
                        standing_by = False
                        logger.info("lease taken: running the background workers", extra={"lease": name})
                        if await _hold(conn, work, check_seconds):
                            return
            except asyncio.CancelledError:
                raise
            except (SQLAlchemyError, OSError) as exc:
                logger.warning("lease lost or unavailable", extra={"lease": name, "error": repr(exc)[:500]})
            except Exception:
                logger.exception("background workers stopped; restarting them", extra={"lease": name})
            else:
                if not held and not standing_by:
                    logger.info("standing by: another replica holds the lease", extra={"lease": name})
                    standing_by = True
            await asyncio.sleep(check_seconds)
    finally:
        # Closing the connection (the engine has no pool) releases the lock for the next holder.
        await engine.dispose()


async def _hold(conn: AsyncConnection, work: Work, check_seconds: float) -> bool:
    """Run the workers until they end (True: there were none to run) or the lease connection
    fails (then they are stopped and the error raised)."""
    runner = asyncio.create_task(_run_workers(work()))
    try:
        while True:
            done, _ = await asyncio.wait({runner}, timeout=check_seconds)
            if done:
                runner.result()
                return True
            await conn.execute(text("SELECT 1"))
            await conn.commit()
    finally:
        runner.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await runner
