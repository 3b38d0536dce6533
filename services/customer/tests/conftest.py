from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from crm_chassis.testing import BACKENDS, internal_headers, migrate, scratch_database, truncate
from crm_customer.config import Settings
from crm_customer.db import metadata
from crm_customer.main import create_app

ALEMBIC_INI = Path(__file__).parents[1] / "alembic.ini"
# The suite runs with --import-mode=importlib: make `customer_import_helpers` importable by the test modules.
sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(scope="session", params=BACKENDS)
async def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    async with scratch_database(request.param, tmp_path_factory.mktemp("customer"), "customer") as url:
        await migrate(ALEMBIC_INI, url)
        yield url


@pytest.fixture(scope="session")
async def app(database_url: str) -> AsyncIterator[FastAPI]:
    # The gateway's feed is not followed: tests apply user events themselves (user_helpers.py).
    application = create_app(Settings(database_url=database_url, environment="test", consume_events=False))
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    await truncate(app.state.engine, metadata)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://customer", headers=internal_headers()) as c:
        yield c


@pytest.fixture
def db(app: FastAPI, client: httpx.AsyncClient) -> object:
    """The app's sessionmaker: open short sessions with it (a held SQLite transaction blocks writers)."""
    return app.state.sessionmaker


@pytest.fixture
async def data_dir(app: FastAPI, tmp_path: Path) -> AsyncIterator[Path]:
    """Spooled uploads and exported files go to a scratch directory, not the working tree."""
    settings = app.state.settings
    before = settings.data_dir
    settings.data_dir = tmp_path
    yield tmp_path
    settings.data_dir = before
