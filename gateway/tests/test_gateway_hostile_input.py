"""The gateway's own routes refuse control characters with 422 like the services, before any
database or upstream sees them, and its error bodies carry the request id."""

from __future__ import annotations

import json

import pytest


@pytest.mark.parametrize(
    "body",
    [
        {"email": "a@crm.test", "password": "plum-orchard-1987", "role": "agent", "name": "Li\u0000Na"},
        {"email": "a\u0000@crm.test", "password": "plum-orchard-1987", "role": "agent", "name": "Li Na"},
    ],
)
async def test_nul_in_a_gateway_body_is_422(gateway, admin_headers, body):
    headers = admin_headers | {"Content-Type": "application/json", "X-Request-ID": "hostile-1"}
    response = await gateway.client.post("/api/v1/users", content=json.dumps(body), headers=headers)

    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["code"] == "control_character"
    assert response.json()["request_id"] == "hostile-1"


async def test_nul_in_a_sign_in_form_and_a_query_is_422(gateway, admin_headers):
    form = await gateway.client.post("/api/v1/auth/token", data={"username": "a\u0000@crm.test", "password": "x"})
    query = await gateway.client.get("/api/v1/audit", params={"action": "a\u0000"}, headers=admin_headers)
    proxied = await gateway.client.get("/api/v1/customers", params={"q": "\u0000"}, headers=admin_headers)

    assert (form.status_code, query.status_code, proxied.status_code) == (422, 422, 422)
    assert form.json()["errors"][0]["field"] == "body.username"
