"""Test support shared by the services' suites: real databases, migrated, cleaned between tests."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import MetaData, delete, text
from sqlalchemy import event as sa_event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from crm_chassis.db import normalise_url
from crm_chassis.identity import Principal, sign_internal_token
from crm_chassis.settings import DEV_INTERNAL_SECRET

POSTGRES_ENV = "CRM_TEST_POSTGRES_URL"
BACKENDS = ["sqlite", "postgres"]


def postgres_url_or_skip() -> str:
    """The PostgreSQL server to test against; skipped loudly without one, and never skipped in CI."""
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{POSTGRES_ENV} must be set in CI: the PostgreSQL tests may not be skipped there")
        pytest.skip(f"PostgreSQL tests skipped: set {POSTGRES_ENV}=postgresql://user@host:port/db to run them")
    return normalise_url(url)


@asynccontextmanager
async def scratch_database(backend: str, tmp_dir: Path, name: str) -> AsyncIterator[str]:
    """A fresh, empty database for one test run, removed afterwards."""
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_dir / (name + '.db')}"
        return
    base = make_url(postgres_url_or_skip())
    db_name = f"crm_test_{name}_{uuid.uuid4().hex[:8]}"
    admin = create_async_engine(base, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{db_name}"'))
    try:
        yield base.set(database=db_name).render_as_string(hide_password=False)
    finally:
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)'))
        await admin.dispose()


async def migrate(alembic_ini: Path, url: str) -> None:
    """`alembic upgrade head` against `url` (in a thread: the migration env runs its own loop)."""
    config = Config(str(alembic_ini))
    config.cmd_opts = None
    config.set_main_option("script_location", str(alembic_ini.parent / "migrations"))
    config.attributes["url"] = url
    await asyncio.to_thread(command.upgrade, config, "head")


async def truncate(engine: AsyncEngine, metadata: MetaData) -> None:
    """Empty every table of a service so that each test starts from nothing."""
    async with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            names = ", ".join(f'"{t.schema}"."{t.name}"' for t in metadata.sorted_tables)
            await conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in reversed(metadata.sorted_tables):
                await conn.execute(delete(table))


def internal_headers(
    role: str = "admin", subject: str | None = None, secret: str = DEV_INTERNAL_SECRET, kind: str = "user"
) -> dict[str, str]:
    principal = Principal(subject=subject or f"user-{role}", kind=kind, role=role)  # type: ignore[arg-type]
    # A test client signs once and keeps the headers for the whole test, which on a loaded machine
    # can outlast the gateway's one-minute tokens; expiry itself is tested with its own tokens.
    return {"X-Internal-Token": sign_internal_token(principal, secret, ttl_seconds=3600)}


async def check_migrations_match_models(alembic_ini: Path, url: str) -> None:
    """Fail if the models hold changes no migration makes (`alembic check`; PostgreSQL only,
    since on SQLite the schema is translated away and every table would look new)."""
    config = Config(str(alembic_ini))
    config.set_main_option("script_location", str(alembic_ini.parent / "migrations"))
    config.attributes["url"] = url
    await asyncio.to_thread(command.check, config)


@contextmanager
def recorded_statements(*engines: AsyncEngine | Engine) -> Iterator[list[str]]:
    """The SQL the engines send while the block runs, in order (for tests that count round trips)."""
    seen: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        seen.append(statement)

    syncs = {engine.sync_engine if isinstance(engine, AsyncEngine) else engine for engine in engines}
    for sync in syncs:
        sa_event.listen(sync, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        for sync in syncs:
            sa_event.remove(sync, "before_cursor_execute", record)
