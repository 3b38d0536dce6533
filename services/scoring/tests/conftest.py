from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_chassis.testing import BACKENDS, internal_headers, migrate, scratch_database, truncate
from crm_scoring.config import Settings
from crm_scoring.db import metadata
from crm_scoring.main import create_app

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="session")
def cdnow() -> dict[str, np.ndarray]:
    """The CDNOW sample summary (data/README.md): x, t_x, T in weeks and zbar in dollars."""
    data = np.loadtxt(DATA / "cdnow_customers_summary_with_transactions.csv", delimiter=",", skiprows=1)
    return {"x": data[:, 1], "t_x": data[:, 2], "T": data[:, 3], "zbar": data[:, 4]}


ALEMBIC_INI = Path(__file__).parents[1] / "alembic.ini"


@pytest.fixture(scope="session", params=BACKENDS)
async def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    async with scratch_database(request.param, tmp_path_factory.mktemp("scoring"), "scoring") as url:
        await migrate(ALEMBIC_INI, url)
        yield url


@pytest.fixture(scope="session")
async def app(database_url: str) -> AsyncIterator[FastAPI]:
    # workers off: tests apply events and drain the re-scoring queue themselves, deterministically
    settings = Settings(database_url=database_url, environment="test", consume_events=False, rescore_workers=False)
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    await truncate(app.state.engine, metadata)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://scoring", headers=internal_headers()) as c:
        yield c


@pytest.fixture
def db(app: FastAPI, client: httpx.AsyncClient) -> async_sessionmaker[AsyncSession]:
    """The app's sessionmaker: open short sessions with it (a held SQLite transaction blocks writers)."""
    sessionmaker: async_sessionmaker[AsyncSession] = app.state.sessionmaker
    return sessionmaker
