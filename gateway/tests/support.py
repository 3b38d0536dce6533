"""Helpers of the gateway tests: migrated scratch databases and a real local server."""

from __future__ import annotations

import argparse
import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from alembic import command
from alembic.config import Config
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from crm_chassis.db import normalise_url

POSTGRES_ENV = "CRM_TEST_POSTGRES_URL"
GATEWAY_DIR = Path(__file__).resolve().parents[1]


def alembic_config(url: str) -> Config:
    config = Config(str(GATEWAY_DIR / "alembic.ini"))
    config.cmd_opts = argparse.Namespace(x=[f"url={url}"])
    return config


async def migrate(url: str, revision: str = "head") -> None:
    # The migration environment calls asyncio.run, which cannot nest inside this loop.
    await asyncio.to_thread(command.upgrade, alembic_config(url), revision)


@asynccontextmanager
async def scratch_postgres_database(server_url: str) -> AsyncIterator[str]:
    """A new, uniquely named database on the server of `server_url`, dropped on the way out."""
    name = f"crm_gateway_test_{uuid.uuid4().hex[:12]}"
    admin = create_async_engine(normalise_url(server_url), isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as connection:
            await connection.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield make_url(normalise_url(server_url)).set(database=name).render_as_string(hide_password=False)
        finally:
            async with admin.connect() as connection:
                await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        await admin.dispose()


def postgres_server_url() -> str:
    url = os.environ.get(POSTGRES_ENV)
    if url:
        return url
    if os.environ.get("CI") == "true":
        pytest.fail(f"{POSTGRES_ENV} must be set in CI: the PostgreSQL tests may not be skipped there")
    pytest.skip(f"{POSTGRES_ENV} is not set: PostgreSQL variant skipped")


@asynccontextmanager
async def serve(app: FastAPI, **config: Any) -> AsyncIterator[str]:
    """Serve `app` with uvicorn on a free local port, for tests that need a real socket."""
    options: dict[str, Any] = {"host": "127.0.0.1", "port": 0, "log_level": "warning", "lifespan": "off"} | config
    server = uvicorn.Server(uvicorn.Config(app, **options))
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn offers a flag, not an event
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
