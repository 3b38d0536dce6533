"""Every error body carries the request id, and an unreachable database is a 503, not a 500, wherever
the error is raised (in a route or in a middleware, outside the app's exception handlers)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.exc import DBAPIError
from starlette.types import ASGIApp, Receive, Scope, Send

from crm_chassis.errors import install_error_handlers
from crm_chassis.middleware import RequestContextMiddleware


def _raiser(error: Callable[[], BaseException]) -> Callable[[], None]:
    def fail() -> None:
        raise error()

    return fail


class FailingMiddleware:
    """Stands for a middleware that reaches the database (as the idempotency one does)."""

    def __init__(self, app: ASGIApp, error: Callable[[], BaseException]) -> None:
        self.app = app
        self.error = error

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/in-middleware":
            raise self.error()
        await self.app(scope, receive, send)


def connection_lost() -> BaseException:
    class ConnectionDoesNotExistError(Exception):  # asyncpg's name for a server that went away
        pass

    return DBAPIError("SELECT 1", {}, ConnectionDoesNotExistError("connection was closed"), connection_invalidated=True)


ERRORS: dict[str, tuple[Callable[[], BaseException], int, str]] = {
    "a bug": (lambda: RuntimeError("boom"), 500, "internal_error"),
    "a refused connection": (
        lambda: OSError("Multiple exceptions: [Errno 111] Connect call failed ('127.0.0.1', 5999)"),
        503,
        "database_unavailable",
    ),
    "connection refused": (lambda: ConnectionRefusedError(111, "refused"), 503, "database_unavailable"),
    "a lost connection": (connection_lost, 503, "database_unavailable"),
    "a missing file is a bug": (lambda: FileNotFoundError(2, "no such file"), 500, "internal_error"),
}


def client_raising(error: Callable[[], BaseException]) -> httpx.AsyncClient:
    app = FastAPI()
    install_error_handlers(app)
    app.add_api_route("/in-route", _raiser(error))
    app.add_middleware(FailingMiddleware, error=error)
    app.add_middleware(RequestContextMiddleware)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")


@pytest.mark.parametrize("where", ["/in-route", "/in-middleware"])
@pytest.mark.parametrize("name", ERRORS)
async def test_errors_nothing_handled_carry_the_request_id(where: str, name: str) -> None:
    error, status, code = ERRORS[name]
    async with client_raising(error) as client:
        response = await client.get(where, headers={"X-Request-ID": "req-123"})
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["x-request-id"] == "req-123"
    body = response.json()
    assert (body["code"], body["request_id"], body["instance"]) == (code, "req-123", where)
    if status == 503:
        assert int(response.headers["retry-after"]) > 0
    else:
        assert "retry-after" not in response.headers


async def _a_real_deadlock() -> BaseException:
    """Two transactions on a real PostgreSQL each waiting for the other's lock: the server fails one."""
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    from crm_chassis.testing import postgres_url_or_skip

    engine = create_async_engine(postgres_url_or_skip())
    first_holds, second_holds = asyncio.Event(), asyncio.Event()

    async def take(mine: int, theirs: int, holding: asyncio.Event, other: asyncio.Event) -> None:
        async with engine.begin() as conn:
            await conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": mine})
            holding.set()
            await other.wait()
            await conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": theirs})

    try:
        results = await asyncio.gather(
            take(8_800_001, 8_800_002, first_holds, second_holds),
            take(8_800_002, 8_800_001, second_holds, first_holds),
            return_exceptions=True,
        )
    finally:
        await engine.dispose()
    [failure] = [r for r in results if isinstance(r, BaseException)]
    return failure


async def test_a_deadlock_is_a_503_to_retry_not_a_server_error() -> None:
    from crm_chassis.app import _install_database_error_handlers
    from crm_chassis.db import lost_a_race

    deadlock = await _a_real_deadlock()
    assert lost_a_race(deadlock), repr(deadlock)
    assert not lost_a_race(RuntimeError("boom")) and not lost_a_race(connection_lost())
    for where in ("/in-route", "/in-middleware"):
        async with client_raising(lambda: deadlock) as client:
            _install_database_error_handlers(client._transport.app)  # type: ignore[attr-defined]
            response = await client.get(where)
        assert response.status_code == 503, (where, response.text)
        assert response.json()["code"] == "database_busy" and response.headers["retry-after"] == "1"
