"""The gateway's migrations go up, down and up again on both databases."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import create_async_engine

from crm_chassis.db import normalise_url

from .support import alembic_config, migrate, postgres_server_url, scratch_postgres_database

TABLES = {
    "user_account",
    "outbox_event",
    "consumer_cursor",
    "consumed_event",
    "dead_letter",
    "idempotency_key",
    "relay_cursor",
    "refresh_token",
    "login_failure",
    "api_key",
    "audit_event",
    "webhook_subscription",
    "webhook_event",
    "webhook_delivery",
    "webhook_attempt",
    "revoked_token",
}


@pytest.fixture(params=["sqlite", "postgresql"])
async def fresh_database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[tuple[str, str | None]]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'var' / 'gateway.db'}", None
        return
    async with scratch_postgres_database(postgres_server_url()) as url:
        yield url, "gateway"


async def _tables(url: str, schema: str | None) -> set[str]:
    engine = create_async_engine(normalise_url(url))
    try:
        async with engine.connect() as connection:
            names = await connection.run_sync(lambda sync: inspect(sync).get_table_names(schema=schema))
    finally:
        await engine.dispose()
    return set(names) - {"alembic_version"}


async def test_upgrade_downgrade_upgrade(fresh_database):
    url, schema = fresh_database

    # The SQLite file's folder does not exist yet: the migration creates it.
    await migrate(url)
    assert await _tables(url, schema) == TABLES
    await asyncio.to_thread(command.downgrade, alembic_config(url), "base")
    assert await _tables(url, schema) == set()
    await migrate(url)
    assert await _tables(url, schema) == TABLES
