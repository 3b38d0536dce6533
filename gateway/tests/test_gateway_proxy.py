"""Requests through the gateway reach the right service, as the right caller, and come back intact."""

from __future__ import annotations

import gzip
import json

import pytest

from crm_chassis.identity import verify_internal_token

PROBLEM = "application/problem+json"


@pytest.mark.parametrize(
    ("public", "upstream", "service_path"),
    [
        ("/api/v1/customers/42/scores/history", "scoring", "/customers/42/scores/history"),
        ("/api/v1/scoring/runs/1", "scoring", "/scoring/runs/1"),
        ("/api/v1/care/due", "scoring", "/care/due"),
        ("/api/v1/analytics/churn", "scoring", "/analytics/churn"),
        ("/api/v1/complaints/7/history", "feedback", "/complaints/7/history"),
        ("/api/v1/analytics/satisfaction", "feedback", "/analytics/satisfaction"),
        ("/api/v1/surveys/3/report", "feedback", "/surveys/3/report"),
        ("/api/v1/customers/42/contacts", "customer", "/customers/42/contacts"),
        ("/api/v1/orders/9", "customer", "/orders/9"),
        ("/api/v1/imports/5", "customer", "/imports/5"),
    ],
)
async def test_paths_reach_their_service_with_the_prefix_stripped(
    gateway, admin_headers, public, upstream, service_path
):
    response = await gateway.client.get(public, headers=admin_headers)

    assert response.status_code == 200, response.text
    assert response.json()["service"] == upstream
    assert response.json()["path"] == service_path
    others = [name for name in ("customer", "scoring", "feedback") if name != upstream]
    assert all(gateway.seen(name) == [] for name in others)


async def test_upstream_gets_a_verifiable_internal_identity_and_no_credentials(gateway, admin_headers):
    me = (await gateway.client.get("/api/v1/auth/me", headers=admin_headers)).json()
    headers = admin_headers | {"Cookie": "session=secret", "X-Internal-Token": "forged", "X-API-Key": "k"}

    response = await gateway.client.get("/api/v1/customers/42/notes?b=2&a=%20x", headers=headers)

    seen = response.json()
    assert seen["query"] == "b=2&a=%20x"
    for header in ("authorization", "cookie", "x-api-key"):
        assert header not in seen["headers"]
    secret = gateway.app.state.settings.internal_secret.get_secret_value()
    principal = verify_internal_token(seen["headers"]["x-internal-token"], secret)
    assert principal.subject == me["id"]
    assert principal.kind == "user"
    assert principal.role == "admin"
    assert principal.name == me["email"]
    assert seen["headers"]["x-forwarded-for"] == "203.0.113.7"


async def test_request_id_is_forwarded_and_echoed(gateway, admin_headers):
    response = await gateway.client.get("/api/v1/orders", headers=admin_headers | {"X-Request-ID": "trace-123"})

    assert response.headers["x-request-id"] == "trace-123"
    assert response.json()["headers"]["x-request-id"] == "trace-123"


async def test_generated_request_id_is_the_one_forwarded(gateway, admin_headers):
    response = await gateway.client.get("/api/v1/orders", headers=admin_headers)

    assert response.json()["headers"]["x-request-id"] == response.headers["x-request-id"]


async def test_post_body_is_forwarded_and_location_made_public(gateway, admin_headers):
    payload = {"name": "Ada", "kind": "individual"}

    response = await gateway.client.post("/api/v1/customers", json=payload, headers=admin_headers)

    assert response.status_code == 201
    assert response.headers["location"] == "/api/v1/customers/new-id"
    seen = response.json()
    assert seen["method"] == "POST"
    assert json.loads(seen["body"]) == payload
    assert seen["headers"]["content-type"] == "application/json"


async def test_chunked_upload_without_length_is_streamed_through(gateway, admin_headers):
    async def chunks():
        for _ in range(4):
            yield b"x" * 1000

    response = await gateway.client.post("/api/v1/imports", content=chunks(), headers=admin_headers)

    assert response.status_code == 201
    assert response.json()["body_length"] == 4000


async def test_repeated_response_headers_survive(gateway, admin_headers):
    response = await gateway.client.get("/api/v1/orders", headers=admin_headers)

    assert response.headers.get_list("set-cookie") == [
        "first=1; Path=/; SameSite=lax",
        "second=2; Path=/; SameSite=lax",
    ]
    assert response.headers["x-upstream"] == "customer"


async def test_an_upstream_cookie_goes_to_its_caller_only(gateway, admin_headers):
    # Every answer of the fake customer service sets cookies; the gateway must not keep them and
    # send them with the next call, which may be another caller's.
    first = await gateway.client.get("/api/v1/orders", headers=admin_headers)
    assert first.headers.get_list("set-cookie")

    second = await gateway.client.get("/api/v1/orders/9", headers=admin_headers)

    assert second.status_code == 200
    assert "cookie" not in second.json()["headers"]


async def test_compressed_body_passes_through_undamaged(gateway, admin_headers):
    headers = admin_headers | {"Accept-Encoding": "gzip"}
    async with gateway.client.stream("GET", "/api/v1/orders/gzipped", headers=headers) as response:
        raw = b"".join([chunk async for chunk in response.aiter_raw()])

    assert response.headers["content-encoding"] == "gzip"
    assert int(response.headers["content-length"]) == len(raw)
    assert json.loads(gzip.decompress(raw))["service"] == "customer"


async def test_client_that_asks_for_no_encoding_is_not_sent_compressed_bytes(gateway, admin_headers):
    response = await gateway.client.get("/api/v1/orders", headers=admin_headers | {"Accept-Encoding": "identity"})

    assert response.json()["headers"]["accept-encoding"] == "identity"


async def test_upstream_problem_passes_through(gateway, admin_headers):
    response = await gateway.client.get("/api/v1/complaints/missing", headers=admin_headers)

    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["code"] == "not_found"


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/internal/events",
        "/api/v1/internal%2Fevents",
        "/api/v1/customers/../internal/events",
        "/api/v1/customers/%2e%2e/internal/events",
        "/api/v1/customers%2F..%2Finternal%2Fevents",
        "/api/v1/healthz",
        "/api/v1/unknown",
    ],
)
async def test_paths_outside_the_table_are_404_and_reach_no_service(gateway, admin_headers, path):
    response = await gateway.client.get(path, headers=admin_headers)

    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM
    assert all(gateway.seen(name) == [] for name in ("customer", "scoring", "feedback"))


async def test_percent_encoded_slash_in_an_id_is_kept(gateway, admin_headers):
    response = await gateway.client.get("/api/v1/customers/ext%2F42", headers=admin_headers)

    assert response.json()["raw_path"] == "/customers/ext%2F42"


async def test_over_a_real_socket_bodies_stream_both_ways(networked_gateway):
    headers = await networked_gateway.login()

    async def chunks():
        for _ in range(8):
            yield b"y" * 64_000

    upload = await networked_gateway.client.post("/api/v1/imports?kind=orders", content=chunks(), headers=headers)
    async with networked_gateway.client.stream(
        "GET", "/api/v1/customers/7/gzipped", headers=headers | {"Accept-Encoding": "gzip"}
    ) as download:
        raw = b"".join([chunk async for chunk in download.aiter_raw()])

    assert upload.status_code == 201
    assert upload.headers["location"] == "/api/v1/imports/new-id"
    assert upload.json()["body_length"] == 8 * 64_000
    assert upload.json()["query"] == "kind=orders"
    assert download.headers["content-encoding"] == "gzip"
    assert int(download.headers["content-length"]) == len(raw)
    assert json.loads(gzip.decompress(raw))["path"] == "/customers/7/gzipped"
