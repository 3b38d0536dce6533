"""Fixtures of the gateway tests: a migrated database per backend, fake upstreams, a running gateway.

Every database-backed test runs on SQLite and, when CRM_TEST_POSTGRES_URL is set, on PostgreSQL
in a scratch database made for this run and dropped after it.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy import update

from crm_chassis.identity import Principal, verify_internal_token
from crm_gateway.api_keys import service as api_keys
from crm_gateway.api_keys.schemas import ApiKeyCreate
from crm_gateway.auth import security
from crm_gateway.config import Settings
from crm_gateway.main import create_app
from crm_gateway.users import service as user_service
from crm_gateway.users.models import Role
from crm_gateway.webhooks.models import WebhookSubscription
from crm_gateway.webhooks.runtime import WebhookRuntime

from .fake_upstreams import fake_service
from .support import migrate, postgres_server_url, scratch_postgres_database, serve
from .webhook_support import FakeClock, Receiver, fake_resolver

JWT_SECRET = "test-jwt-secret-" + "0123456789abcdef" * 3  # long enough for the HS512 test token
INTERNAL_SECRET = "test-internal-secret-0123456789abcdef01234"
ADMIN_EMAIL = "root@crm.test"
ADMIN_PASSWORD = "correct horse battery staple"
UPSTREAM_NAMES = ("customer", "scoring", "feedback")


@pytest.fixture(scope="session", autouse=True)
def cheap_password_hashing() -> Iterator[None]:
    """argon2id with minimal cost: production parameters take a quarter second per sign-in,
    which most of these tests do; hashing itself is still argon2id, as in production."""
    original = security._hasher, security._DUMMY_HASH
    security._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    security._DUMMY_HASH = security._hasher.hash("dummy")
    yield
    security._hasher, security._DUMMY_HASH = original


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
        # Every test signs in from the same address into one database per run: the address
        # lockout is tested on its own, with its own addresses.
        "login_max_failures_per_address": 10_000,
        # The webhook feed followers and dispatcher are driven step by step by their own tests.
        "webhook_workers": False,
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
        self,
        *,
        role: Role = Role.agent,
        is_active: bool = True,
        password: str = "pass-word-123",
        manager_id: uuid.UUID | None = None,
    ) -> str:
        email = f"user-{uuid.uuid4().hex[:10]}@crm.test"
        async with self.app.state.sessionmaker.begin() as session:
            await user_service.create(
                session,
                email=email,
                password=password,
                role=role,
                name="Test User",
                is_active=is_active,
                manager_id=manager_id,
            )
        return email

    async def signed_in(self, role: Role, **kwargs: Any) -> tuple[str, dict[str, str]]:
        """A new user of `role`: their id and bearer headers."""
        headers = await self.login(await self.add_user(role=role, **kwargs), "pass-word-123")
        me = await self.client.get("/api/v1/auth/me", headers=headers)
        return str(me.json()["id"]), headers

    async def add_key(self, scopes: set[str], **fields: Any) -> tuple[str, str]:
        """A new partner key with `scopes`: its id and secret."""
        async with self.app.state.sessionmaker.begin() as session:
            key, secret = await api_keys.create(
                session, ApiKeyCreate(name="partner", scopes=sorted(scopes), **fields), created_by=None
            )
        return str(key.id), secret

    def principal_seen(self, upstream: str) -> Principal:
        token = self.seen(upstream)[-1]["headers"]["x-internal-token"]
        return verify_internal_token(token, self.app.state.settings.internal_secret.get_secret_value())

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
        transports: Mapping[str, httpx.AsyncBaseTransport | None] | None = None,
        webhook_runtime: WebhookRuntime | None = None,
        **overrides: Any,
    ) -> AsyncIterator[Gateway]:
        upstreams = {name: fake_service(name) for name in UPSTREAM_NAMES}
        chosen: dict[str, httpx.AsyncBaseTransport | None] = {
            name: httpx.ASGITransport(app) for name, app in upstreams.items()
        }
        chosen.update(transports or {})
        real = {name: transport for name, transport in chosen.items() if transport is not None}
        app = create_app(make_settings(database_url, **overrides), transports=real, webhook_runtime=webhook_runtime)
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


@dataclass
class Hooks:
    """A gateway whose webhooks run on a fake clock, a fake DNS and a recording receiver."""

    gateway: Gateway
    clock: FakeClock
    receiver: Receiver
    admin: dict[str, str]

    async def subscribe(
        self, url: str = "https://partner.example/hook", event_types: tuple[str, ...] = ("order.recorded",)
    ) -> dict[str, Any]:
        response = await self.gateway.client.post(
            "/api/v1/webhooks", headers=self.admin, json={"url": url, "event_types": list(event_types)}
        )
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created

    async def deliveries(self, webhook_id: str, **params: Any) -> list[dict[str, Any]]:
        response = await self.gateway.client.get(
            f"/api/v1/webhooks/{webhook_id}/deliveries", headers=self.admin, params=params
        )
        assert response.status_code == 200, response.text
        items: list[dict[str, Any]] = response.json()["items"]
        return items

    async def dispatch(self) -> int:
        sent: int = await self.gateway.app.state.webhook_dispatcher.run_once()
        return sent


HooksFactory = Callable[..., AbstractAsyncContextManager[Hooks]]


@pytest.fixture
def open_hooks(open_gateway: GatewayFactory) -> HooksFactory:
    @asynccontextmanager
    async def opener(receiver: Receiver | None = None, network: bool = False, **overrides: Any) -> AsyncIterator[Hooks]:
        """`network=True` sends deliveries over real sockets instead of to `receiver`."""
        receiver = receiver or Receiver()
        clock = FakeClock()
        transport = None if network else receiver.transport()
        runtime = WebhookRuntime(clock=clock, resolver=fake_resolver, transport=transport)
        async with open_gateway(webhook_runtime=runtime, **overrides) as gateway:
            try:
                yield Hooks(gateway, clock, receiver, await gateway.login())
            finally:
                # The database is shared by the session's tests: retire this test's subscriptions
                # so that their deliveries are not sent by the next test's dispatcher.
                async with gateway.app.state.sessionmaker.begin() as session:
                    await session.execute(
                        update(WebhookSubscription).values(active=False, deleted_at=datetime.now(UTC))
                    )

    return opener


@pytest.fixture
async def hooks(open_hooks: HooksFactory) -> AsyncIterator[Hooks]:
    async with open_hooks() as running:
        yield running
