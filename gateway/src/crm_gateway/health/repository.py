"""The database check of readiness."""

from __future__ import annotations

import asyncio

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine


async def database_ready(engine: AsyncEngine, wait_seconds: float) -> bool:
    """Whether the database answers a trivial query within `wait_seconds`."""
    try:
        async with asyncio.timeout(wait_seconds), engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception:
        return False
    return True
