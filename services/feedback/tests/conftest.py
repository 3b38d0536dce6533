from __future__ import annotations

import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_chassis.testing import BACKENDS, internal_headers, migrate, scratch_database, truncate
from crm_feedback.config import Settings
from crm_feedback.db import metadata
from crm_feedback.main import create_app

ALEMBIC_INI = Path(__file__).parents[1] / "alembic.ini"
# The suite runs with --import-mode=importlib: make `feedback_helpers` importable by the test modules.
sys.path.insert(0, str(Path(__file__).parent))
from feedback_helpers import make_customer  # noqa: E402

MANAGER_OF = {uuid.UUID(int=1): uuid.UUID(int=101)}


@pytest.fixture(scope="session", params=BACKENDS)
async def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    async with scratch_database(request.param, tmp_path_factory.mktemp("feedback"), "feedback") as url:
        await migrate(ALEMBIC_INI, url)
        yield url


@pytest.fixture(scope="session")
def settings(database_url: str) -> Settings:
    return Settings(
        database_url=database_url,
        environment="test",
        consume_events=False,
        run_sla_checks=False,
        sla_warning_lead_minutes=30,
        escalation_managers=MANAGER_OF,
    )


@pytest.fixture(scope="session")
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    await truncate(app.state.engine, metadata)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://feedback", headers=internal_headers(subject="agent-1")
    ) as c:
        yield c


@pytest.fixture
def db(app: FastAPI, client: httpx.AsyncClient) -> async_sessionmaker[AsyncSession]:
    """The app's sessionmaker: open short sessions with it (a held SQLite transaction blocks writers)."""
    sessionmaker: async_sessionmaker[AsyncSession] = app.state.sessionmaker
    return sessionmaker


@pytest.fixture
async def customer_id(db: async_sessionmaker[AsyncSession]) -> uuid.UUID:
    return await make_customer(db)
