"""Upstream trouble, oversize bodies, and the health endpoints."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from fastapi import FastAPI
from pydantic import ValidationError

from crm_gateway.config import Settings

from .support import serve

PROBLEM = "application/problem+json"
MIB = 1024 * 1024


def closed_port_url() -> str:
    """A local URL where nothing listens, so connecting is refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def raising(exc_type: type[httpx.TransportError]) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc_type("simulated", request=request)

    return httpx.MockTransport(handler)


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_refused_connection_is_502_upstream_unavailable(open_gateway, method):
    async with open_gateway(transports={"customer": None}, customer_url=closed_port_url()) as gateway:
        headers = await gateway.login()
        response = await gateway.client.request(method, "/api/v1/customers", headers=headers, json={})

    assert response.status_code == 502
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["code"] == "upstream_unavailable"
    assert response.json()["request_id"] == response.headers["x-request-id"]


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (httpx.ReadTimeout, 504, "upstream_timeout"),
        (httpx.ConnectTimeout, 504, "upstream_timeout"),
        (httpx.RemoteProtocolError, 502, "upstream_error"),
        (httpx.PoolTimeout, 503, "upstream_busy"),
    ],
)
async def test_transport_errors_map_to_problems(open_gateway, error, status, code):
    async with open_gateway(transports={"scoring": raising(error)}) as gateway:
        headers = await gateway.login()
        response = await gateway.client.get("/api/v1/scores", headers=headers)

    assert response.status_code == status
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["code"] == code


@asynccontextmanager
async def silent_server() -> AsyncIterator[str]:
    """A server that accepts connections and never answers."""
    held: list[asyncio.StreamWriter] = []

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        for writer in held:
            writer.close()
        server.close()
        await server.wait_closed()


async def test_upstream_that_never_answers_is_504(open_gateway):
    async with (
        silent_server() as url,
        open_gateway(transports={"feedback": None}, feedback_url=url, upstream_read_timeout=0.3) as gateway,
    ):
        headers = await gateway.login()
        response = await gateway.client.get("/api/v1/complaints", headers=headers)

    assert response.status_code == 504
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["code"] == "upstream_timeout"


class FlakyTransport(httpx.AsyncBaseTransport):
    """Fails the first call as a dropped keep-alive connection does, then answers."""

    def __init__(self, error: type[httpx.TransportError]) -> None:
        self.error = error
        self.calls = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        if self.calls == 1:
            raise self.error("dropped", request=request)
        body = await request.aread()
        return httpx.Response(200, json={"attempt": self.calls, "body": body.decode()})


@pytest.mark.parametrize("error", [httpx.ConnectError, httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError])
@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
async def test_idempotent_methods_are_retried_once(open_gateway, error, method):
    flaky = FlakyTransport(error)
    async with open_gateway(transports={"customer": flaky}) as gateway:
        headers = await gateway.login()
        response = await gateway.client.request(method, "/api/v1/customers/1", headers=headers, content=b"same")

    assert response.status_code == 200
    assert response.json() == {"attempt": 2, "body": "same"}


@pytest.mark.parametrize("method", ["POST", "PATCH"])
async def test_unsafe_methods_are_not_retried(open_gateway, method):
    flaky = FlakyTransport(httpx.RemoteProtocolError)
    async with open_gateway(transports={"customer": flaky}) as gateway:
        headers = await gateway.login()
        response = await gateway.client.request(method, "/api/v1/customers/1", headers=headers, json={"a": 1})

    assert response.status_code == 502
    assert flaky.calls == 1


async def test_body_over_one_mib_is_413(gateway, admin_headers):
    response = await gateway.client.post("/api/v1/customers", content=b"x" * (MIB + 1), headers=admin_headers)

    assert response.status_code == 413
    assert response.headers["content-type"] == PROBLEM
    assert gateway.seen("customer") == []


async def test_streamed_body_over_the_limit_is_413(networked_gateway):
    async def chunks():
        for _ in range(3):
            yield b"x" * (MIB // 2)

    headers = await networked_gateway.login()
    response = await networked_gateway.client.post("/api/v1/orders", content=chunks(), headers=headers)

    assert response.status_code == 413
    assert response.headers["content-type"] == PROBLEM


@pytest.mark.parametrize("path", ["/api/v1/orders/batch", "/api/v1/customers/batch"])
async def test_batches_take_up_to_eight_mib(gateway, admin_headers, path):
    headers = admin_headers | {"Content-Type": "application/json"}
    taken = await gateway.client.post(path, content=b" " * (3 * MIB) + b"{}", headers=headers)
    refused = await gateway.client.post(path, content=b" " * (8 * MIB + 1), headers=headers)

    assert taken.status_code != 413 and len(gateway.seen("customer")) == 1
    assert refused.status_code == 413


async def test_imports_accept_larger_bodies(gateway, admin_headers):
    files = {"file": ("customers.csv", b"name\n" + b"a" * (3 * MIB), "text/csv")}

    response = await gateway.client.post("/api/v1/imports?kind=customers", files=files, headers=admin_headers)

    assert response.status_code == 201
    assert response.json()["body_length"] > 3 * MIB


async def test_healthz_and_metrics(gateway, admin_headers):
    await gateway.client.get("/api/v1/orders", headers=admin_headers)

    assert (await gateway.client.get("/healthz")).json() == {"status": "ok"}
    metrics = (await gateway.client.get("/metrics")).text
    assert 'gateway_upstream_requests_total{outcome="200",upstream="customer"}' in metrics
    assert "http_requests_total" in metrics


async def test_readyz_when_everything_answers(gateway):
    response = await gateway.client.get("/readyz")

    assert response.status_code == 200
    assert response.json()["checks"] == {
        "database": "ok",
        "customer": "ok",
        "scoring": "ok",
        "feedback": "ok",
    }


async def test_readyz_is_503_when_an_upstream_is_down(open_gateway):
    async with open_gateway(transports={"feedback": None}, feedback_url=closed_port_url()) as gateway:
        gateway.upstreams["scoring"].state.ready = False
        response = await gateway.client.get("/readyz")

    assert response.status_code == 503
    assert response.headers["content-type"] == PROBLEM
    assert response.headers["retry-after"] == "5"
    assert response.json()["checks"] == {
        "database": "ok",
        "customer": "ok",
        "scoring": "unavailable",
        "feedback": "unavailable",
    }


async def test_a_post_with_an_idempotency_key_is_retried_once(open_gateway):
    flaky = FlakyTransport(httpx.ReadError)
    async with open_gateway(transports={"customer": flaky}) as gateway:
        headers = await gateway.login() | {"Idempotency-Key": "order-1"}
        response = await gateway.client.post("/api/v1/orders", headers=headers, json={"a": 1})

    assert response.status_code == 200
    assert (response.json()["attempt"], flaky.calls) == (2, 2)


def test_the_pool_must_drop_idle_connections_well_before_the_services_do():
    with pytest.raises(ValidationError, match="at most half"):
        Settings(upstream_keepalive_expiry=30, service_keepalive_seconds=45)
    assert Settings().upstream_keepalive_expiry < Settings().service_keepalive_seconds / 2


async def test_connections_held_idle_across_the_services_keep_alive_give_no_502(open_gateway):
    """A real service that closes idle connections after 1 s, a gateway pool that drops them after
    0.4 s, and POSTs without an Idempotency-Key (never retried) sent around that boundary."""
    upstream = FastAPI()

    @upstream.post("/orders", status_code=201)
    async def record() -> dict[str, bool]:
        return {"ok": True}

    async with (
        serve(upstream, timeout_keep_alive=1) as url,
        open_gateway(
            transports={"customer": None},
            customer_url=url,
            upstream_keepalive_expiry=0.4,
            service_keepalive_seconds=1,
        ) as gateway,
    ):
        headers = await gateway.login()
        statuses = []
        for idle in (0.0, 0.9, 0.95, 1.0, 1.05, 1.1, 0.5):
            await asyncio.sleep(idle)
            statuses.append((await gateway.client.post("/api/v1/orders", headers=headers, json={})).status_code)

    assert statuses == [201] * 7
