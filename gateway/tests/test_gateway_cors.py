"""Browsers on the allowed origins may call the API: preflights need no token, and the headers a
client reads are exposed, on refusals too. Other origins get no CORS headers."""

from __future__ import annotations

import pytest

from crm_gateway.config import Settings

FRONTEND = "http://localhost:5173"


@pytest.fixture
async def browser_gateway(open_gateway):
    async with open_gateway(cors_origins=[FRONTEND]) as gateway:
        yield gateway


async def test_a_preflight_needs_no_token_and_allows_the_headers_clients_send(browser_gateway):
    response = await browser_gateway.client.options(
        "/api/v1/customers/1",
        headers={
            "Origin": FRONTEND,
            "Access-Control-Request-Method": "PATCH",
            "Access-Control-Request-Headers": "authorization, if-match, idempotency-key, content-type",
        },
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == FRONTEND
    allowed = {h.strip().lower() for h in response.headers["access-control-allow-headers"].split(",")}
    assert {"authorization", "if-match", "idempotency-key", "if-none-match", "x-api-key", "x-request-id"} <= allowed
    assert "PATCH" in response.headers["access-control-allow-methods"]


async def test_responses_expose_what_clients_read_even_when_refused(browser_gateway):
    headers = await browser_gateway.login() | {"Origin": FRONTEND}
    read = await browser_gateway.client.get("/api/v1/customers/1", headers=headers)
    assert read.headers["access-control-allow-origin"] == FRONTEND
    exposed = {h.strip().lower() for h in read.headers["access-control-expose-headers"].split(",")}
    assert {"etag", "location", "ratelimit-remaining", "retry-after", "x-request-id"} <= exposed
    refused = await browser_gateway.client.get("/api/v1/customers", headers={"Origin": FRONTEND})
    assert refused.status_code == 401 and refused.headers["access-control-allow-origin"] == FRONTEND


async def test_other_origins_and_the_default_get_no_cors_headers(browser_gateway, gateway):
    other = await browser_gateway.client.get("/healthz", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in other.headers
    closed = await gateway.client.get("/healthz", headers={"Origin": FRONTEND})
    assert "access-control-allow-origin" not in closed.headers


def test_origins_come_as_a_comma_separated_list(monkeypatch):
    monkeypatch.setenv("CRM_GATEWAY_CORS_ORIGINS", "http://localhost:5173, https://app.example.com/")
    assert Settings().cors_origins == ["http://localhost:5173", "https://app.example.com"]
    monkeypatch.delenv("CRM_GATEWAY_CORS_ORIGINS")
    assert Settings().cors_origins == []  # closed unless configured
