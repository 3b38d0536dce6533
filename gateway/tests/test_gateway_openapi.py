"""The merged OpenAPI document and the offline docs page."""

from __future__ import annotations

import re

import httpx

from crm_chassis.identity import verify_internal_token
from crm_gateway.docs.merge import merge_service


async def test_merged_document_has_auth_and_every_service_under_the_prefix(gateway):
    response = await gateway.client.get("/api/v1/openapi.json")

    assert response.status_code == 200
    doc = response.json()
    paths = set(doc["paths"])
    assert {
        "/api/v1/auth/token",
        "/api/v1/auth/me",
        "/api/v1/customers",
        "/api/v1/customers/{customer_id}/card",
        "/api/v1/customers/{customer_id}/scores",
        "/api/v1/scores",
        "/api/v1/complaints",
    } <= paths
    assert not [p for p in paths if not p.startswith("/api/v1/")]
    assert not [p for p in paths if re.search(r"/(internal|healthz|readyz|metrics)", p)]
    # Declared by scoring but routed to the customer service: not advertised as reachable.
    assert "/api/v1/customers/{customer_id}/orders" not in paths


async def test_merged_document_declares_how_to_authenticate(gateway):
    doc = (await gateway.client.get("/api/v1/openapi.json")).json()

    schemes = doc["components"]["securitySchemes"]
    assert schemes["OAuth2Password"]["flows"]["password"]["tokenUrl"] == "/api/v1/auth/token"
    assert schemes["BearerAuth"] == {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    assert schemes["ApiKeyAuth"] == {"type": "apiKey", "in": "header", "name": "X-API-Key"}
    assert {"OAuth2Password": []} in doc["security"]
    assert doc["paths"]["/api/v1/auth/token"]["post"]["security"] == []


async def test_clashing_schema_names_are_kept_apart(gateway):
    doc = (await gateway.client.get("/api/v1/openapi.json")).json()

    schemas = doc["components"]["schemas"]
    assert set(schemas["Page"]["properties"]) == {"items", "next_cursor"}
    assert set(schemas["scoring_Page"]["properties"]) == {"items", "total"}
    assert schemas["ScoreList"]["properties"]["page"]["$ref"] == "#/components/schemas/scoring_Page"
    assert schemas["Card"]["properties"]["page"]["$ref"] == "#/components/schemas/Page"
    # Errors are one shared Problem schema, never FastAPI's own validation error.
    assert "Problem" in schemas and not [n for n in schemas if "HTTPValidationError" in n]


class Switchable(httpx.AsyncBaseTransport):
    """A transport whose target a test can change while the gateway runs."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self.inner.handle_async_request(request)


async def test_services_are_asked_with_a_service_identity(open_gateway):
    seen: list[str] = []

    def spy(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["x-internal-token"])
        return httpx.Response(200, json={"openapi": "3.1.0", "paths": {}})

    async with open_gateway(transports={"feedback": httpx.MockTransport(spy)}) as gateway:
        await gateway.client.get("/api/v1/openapi.json")

    principal = verify_internal_token(seen[0], gateway.app.state.settings.internal_secret.get_secret_value())
    assert principal.kind == "service"
    assert principal.name == "gateway"


async def test_a_service_down_leaves_a_partial_document_that_fills_in_later(open_gateway):
    scoring = Switchable(httpx.MockTransport(lambda request: httpx.Response(503)))
    async with open_gateway(transports={"scoring": scoring}) as gateway:
        partial = (await gateway.client.get("/api/v1/openapi.json")).json()
        assert "/api/v1/customers" in partial["paths"]
        assert "/api/v1/scores" not in partial["paths"]

        scoring.inner = httpx.ASGITransport(gateway.upstreams["scoring"])
        complete = (await gateway.client.get("/api/v1/openapi.json")).json()
        assert "/api/v1/scores" in complete["paths"]

        # Complete now, so it is kept even when the service goes away again.
        scoring.inner = httpx.MockTransport(lambda request: httpx.Response(503))
        again = (await gateway.client.get("/api/v1/openapi.json")).json()
        assert "/api/v1/scores" in again["paths"]


def test_merge_renames_until_no_clash_remains():
    merged = {
        "paths": {},
        "components": {"schemas": {"A": {"type": "string"}, "B": {"$ref": "#/components/schemas/A"}}},
    }
    doc = {
        "paths": {
            "/scores": {
                "get": {
                    "operationId": "op",
                    "responses": {
                        "200": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/B"}}}}
                    },
                }
            }
        },
        "components": {"schemas": {"A": {"type": "integer"}, "B": {"$ref": "#/components/schemas/A"}}},
    }

    merge_service(merged, "scoring", doc)

    schemas = merged["components"]["schemas"]
    # B looks the same but points at a different A, so it must be renamed too.
    assert schemas["scoring_B"] == {"$ref": "#/components/schemas/scoring_A", "title": "scoring_B"}
    assert schemas["B"] == {"$ref": "#/components/schemas/A"}
    ref = merged["paths"]["/api/v1/scores"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert ref == {"$ref": "#/components/schemas/scoring_B"}


async def test_docs_page_uses_only_local_assets(gateway):
    response = await gateway.client.get("/docs")

    assert response.status_code == 200
    html = response.text
    assert "http://" not in html and "https://" not in html and "//cdn" not in html
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert "/docs/assets/swagger-ui-bundle.js" in assets
    for asset in assets:
        asset_response = await gateway.client.get(asset)
        assert asset_response.status_code == 200, asset
    js = await gateway.client.get("/docs/assets/swagger-ui-bundle.js")
    assert "javascript" in js.headers["content-type"]
    assert "SwaggerUIBundle" in js.text[:2000]
    assert "'/api/v1/openapi.json'" in html


async def test_docs_are_public_and_the_api_path_redirects(gateway):
    response = await gateway.client.get("/api/v1/docs")

    assert response.status_code == 308
    assert response.headers["location"] == "/docs"
    assert (await gateway.client.get("/docs/oauth2-redirect")).status_code == 200


async def test_default_framework_docs_routes_are_gone(gateway):
    for path in ("/openapi.json", "/redoc"):
        assert (await gateway.client.get(path)).status_code == 404
