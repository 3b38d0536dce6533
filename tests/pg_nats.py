"""PostgreSQL scratch databases and a NATS namespace for the tests that run real processes on them."""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

import nats
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from crm_chassis.testing import postgres_url_or_skip

NATS_URL = os.environ.get("CRM_TEST_NATS_URL", "nats://127.0.0.1:4222")


def nats_or_skip() -> str:
    """The NATS server to test against; skipped without one, except on CI where that fails."""
    parts = urlsplit(NATS_URL)
    try:
        socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 4222), timeout=1).close()
    except OSError as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"NATS JetStream is required on CI: {NATS_URL} unreachable ({exc})")
        pytest.skip(f"NATS JetStream not available at {NATS_URL}: set CRM_TEST_NATS_URL")
    return NATS_URL


def sql(url: str, *statements: str) -> list[list[tuple[object, ...]]]:
    """Run statements on a database from synchronous test code; the rows of each."""

    async def run() -> list[list[tuple[object, ...]]]:
        engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
        try:
            async with engine.connect() as conn:
                results = []
                for statement in statements:
                    result = await conn.execute(text(statement))
                    results.append([tuple(row) for row in result] if result.returns_rows else [])
                return results
        finally:
            await engine.dispose()

    return asyncio.run(run())


@contextmanager
def scratch_postgres(name: str) -> Iterator[str]:
    """A fresh PostgreSQL database (asyncpg URL) that every process of one system shares, one
    schema per service as in production; dropped afterwards."""
    base = make_url(postgres_url_or_skip())
    db_name = f"crm_test_{name}_{uuid.uuid4().hex[:8]}"
    admin = base.render_as_string(hide_password=False)
    sql(admin, f'CREATE DATABASE "{db_name}"')
    try:
        yield base.set(database=db_name).render_as_string(hide_password=False)
    finally:
        sql(admin, f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')


@contextmanager
def nats_namespace() -> Iterator[str]:
    """A namespace of its own on the shared NATS server; its streams are deleted afterwards."""
    url = nats_or_skip()
    namespace = f"t{uuid.uuid4().hex[:10]}"
    try:
        yield namespace
    finally:

        async def cleanup() -> None:
            nc = await nats.connect(url, connect_timeout=2, max_reconnect_attempts=1)
            try:
                js = nc.jetstream()
                for stream in await js.streams_info():
                    if stream.config.name and stream.config.name.startswith(namespace.upper() + "_"):
                        await js.delete_stream(stream.config.name)
            finally:
                await nc.close()

        asyncio.run(cleanup())


def system_env(database_url: str, namespace: str, **extra: str) -> dict[str, str]:
    """The environment that puts every process on one PostgreSQL database and on NATS."""
    env = {f"CRM_{name.upper()}_DATABASE_URL": database_url for name in ("customer", "scoring", "feedback", "gateway")}
    env.update(
        CRM_EVENT_TRANSPORT="nats",
        CRM_NATS_URL=NATS_URL,
        CRM_NATS_NAMESPACE=namespace,
        CRM_NATS_ACK_WAIT_SECONDS="3",
        CRM_LEASE_CHECK_SECONDS="0.5",
    )
    env.update(extra)
    return env
