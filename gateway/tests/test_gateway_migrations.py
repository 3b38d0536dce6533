"""The gateway's migrations go up, down and up again on both databases."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import inspect, text
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


async def test_users_existing_before_the_outbox_are_announced(fresh_database):
    """Accounts created before user events existed reach the services' read model too."""
    url, schema = fresh_database
    await migrate(url, "0006")
    prefix = f'"{schema}".' if schema else ""
    engine = create_async_engine(normalise_url(url))
    user_id, manager_id = uuid.uuid4(), uuid.uuid4()
    try:
        async with engine.begin() as connection:
            for uid, role, boss in ((manager_id, "manager", None), (user_id, "agent", manager_id)):
                await connection.execute(
                    text(
                        f"INSERT INTO {prefix}user_account (id, email, password_hash, role, name, is_active,"
                        " manager_id, version, created_at, updated_at)"
                        " VALUES (:id, :email, 'x', :role, :name, :active, :boss, 3, :now, :now)"
                    ),
                    {
                        "id": uid if schema else uid.hex,
                        "email": f"{role}@crm.test",
                        "role": role,
                        "name": f"Old {role}",
                        "active": role == "manager",
                        "boss": (boss if schema else boss.hex) if boss else None,
                        "now": datetime(2026, 1, 1, tzinfo=UTC),
                    },
                )
        await migrate(url)
        async with engine.connect() as connection:
            rows = (
                await connection.execute(text(f"SELECT type, aggregate_id, version, data FROM {prefix}outbox_event"))
            ).all()
    finally:
        await engine.dispose()

    announced = {row[1]: (row[0], row[2], row[3] if isinstance(row[3], dict) else json.loads(row[3])) for row in rows}
    assert announced == {
        str(manager_id): (
            "user.created",
            3,
            {"id": str(manager_id), "role": "manager", "name": "Old manager", "team": str(manager_id), "active": True},
        ),
        str(user_id): (
            "user.created",
            3,
            {"id": str(user_id), "role": "agent", "name": "Old agent", "team": str(manager_id), "active": False},
        ),
    }
