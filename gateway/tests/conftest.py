"""Fixtures of the gateway tests: a migrated database per backend, fake upstreams, a running gateway.

Every database-backed test runs on SQLite and, when CRM_TEST_POSTGRES_URL is set, on PostgreSQL
in a scratch database made for this run and dropped after it.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from crm_gateway import service as user_service
from crm_gateway.config import Settings
from crm_gateway.main import create_app
from crm_gateway.models import Role

from .fake_upstreams import fake_service
from .support import migrate, postgres_server_url, scratch_postgres_database, serve

JWT_SECRET = "test-jwt-secret-" + "0123456789abcdef" * 3  # long enough for the HS512 test token
INTERNAL_SECRET = "test-internal-secret-0123456789abcdef01234"
ADMIN_EMAIL = "root@crm.test"
ADMIN_PASSWORD = "correct horse battery staple"
UPSTREAM_NAMES = ("customer", "scoring", "feedback")


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
async def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    """A database migrated to head, shared by the session's tests on one backend."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('gateway-db') / 'gateway.db'}"
        await migrate(url)
        yield url
        return
    async with scratch_postgres_database(postgres_server_url()) as url:
        await migrate(url)
        yield url


def make_settings(database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "environment": "test",
        "jwt_secret": SecretStr(JWT_SECRET),
        "internal_secret": SecretStr(INTERNAL_SECRET),
        "bootstrap_admin_email": ADMIN_EMAIL,
        "bootstrap_admin_password": SecretStr(ADMIN_PASSWORD),
        "customer_url": "http://customer.test",
        "scoring_url": "http://scoring.test",
        "feedback_url": "http://feedback.test",
        "log_level": "WARNING",
    }
    return Settings(**(values | overrides))


@dataclass
class Gateway:
    app: FastAPI
    client: httpx.AsyncClient
    upstreams: dict[str, FastAPI]

    async def login(self, email: str = ADMIN_EMAIL, password: str = ADMIN_PASSWORD) -> dict[str, str]:
        response = await self.client.post("/api/v1/auth/token", data={"username": email, "password": password})
        assert response.status_code == 200, response.text
        return {"Authorization": f"Bearer {response.json()['access_token']}"}

    async def add_user(
        self, *, role: Role = Role.agent, is_active: bool = True, password: str = "pass-word-123"
    ) -> str:
        email = f"user-{uuid.uuid4().hex[:10]}@crm.test"
        async with self.app.state.sessionmaker.begin() as session:
            await user_service.create(
                session, email=email, password=password, role=role, name="Test User", is_active=is_active
            )
        return email

    def seen(self, upstream: str) -> list[dict[str, Any]]:
        requests: list[dict[str, Any]] = self.upstreams[upstream].state.seen
        return requests


GatewayFactory = Callable[..., AbstractAsyncContextManager[Gateway]]


@pytest.fixture
def open_gateway(database_url: str) -> GatewayFactory:
    """Start a gateway whose upstreams are in-process fakes unless `transports` says otherwise.

    A transport given as None means the real network, to the URL in the settings.
    """

    @asynccontextmanager
    async def opener(
        transports: Mapping[str, httpx.AsyncBaseTransport | None] | None = None, **overrides: Any
    ) -> AsyncIterator[Gateway]:
        upstreams = {name: fake_service(name) for name in UPSTREAM_NAMES}
        chosen: dict[str, httpx.AsyncBaseTransport | None] = {
            name: httpx.ASGITransport(app) for name, app in upstreams.items()
        }
        chosen.update(transports or {})
        real = {name: transport for name, transport in chosen.items() if transport is not None}
        app = create_app(make_settings(database_url, **overrides), transports=real)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app, client=("203.0.113.7", 40000))
            async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as client:
                yield Gateway(app, client, upstreams)

    return opener


@pytest.fixture
async def gateway(open_gateway: GatewayFactory) -> AsyncIterator[Gateway]:
    async with open_gateway() as running:
        yield running


@pytest.fixture
async def admin_headers(gateway: Gateway) -> dict[str, str]:
    return await gateway.login()


@pytest.fixture
async def networked_gateway(open_gateway: GatewayFactory) -> AsyncIterator[Gateway]:
    """A gateway whose customer service is a fake behind a real socket (uvicorn)."""
    customer = fake_service("customer")
    async with (
        serve(customer) as url,
        open_gateway(transports={"customer": None}, customer_url=url) as running,
    ):
        running.upstreams["customer"] = customer
        yield running
