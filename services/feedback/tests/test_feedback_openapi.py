"""The OpenAPI document the gateway merges: it builds and names every public feedback path."""

from __future__ import annotations

import httpx


async def test_openapi_lists_the_public_paths(client: httpx.AsyncClient) -> None:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    for path in (
        "/complaints",
        "/complaints/{complaint_id}/transitions",
        "/complaints/{complaint_id}/follow-up",
        "/sla-policies/{policy_id}",
        "/suggestions",
        "/service-records",
        "/surveys/{survey_id}/invitations",
        "/surveys/responses",
        "/surveys/{survey_id}/responses",
        "/surveys/{survey_id}/report",
        "/analytics/satisfaction",
        "/analytics/satisfaction/customers/{customer_id}",
        "/analytics/complaints",
    ):
        assert path in paths, path
    schemas = response.json()["components"]["schemas"]
    assert set(schemas["TokenResponseCreate"]["required"]) == {"token", "answers"}
