"""The public OpenAPI document: the gateway's own operations and every service's, as one."""

from __future__ import annotations

import asyncio
import copy
import logging
from typing import Any

import httpx
from fastapi import FastAPI

from crm_chassis.identity import INTERNAL_HEADER, Principal, sign_internal_token
from crm_gateway.config import PUBLIC_PREFIX, Settings
from crm_gateway.docs.merge import RATE_LIMIT_HEADERS, merge_service, publish

logger = logging.getLogger("crm.gateway.openapi")
OPENAPI_PATH = PUBLIC_PREFIX + "/openapi.json"
TOKEN_URL = PUBLIC_PREFIX + "/auth/token"
SECURITY_SCHEMES = {
    "OAuth2Password": {"type": "oauth2", "flows": {"password": {"tokenUrl": TOKEN_URL, "scopes": {}}}},
    "BearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
    # Partner systems: a key issued at /api/v1/api-keys, with scopes (docs/security.md).
    "ApiKeyAuth": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
}


async def build_document(app: FastAPI) -> tuple[dict[str, Any], bool]:
    """The merged document, and whether every service contributed to it."""
    settings: Settings = app.state.settings
    clients: dict[str, httpx.AsyncClient] = app.state.upstreams
    names = list(clients)
    docs = await asyncio.gather(*(_fetch(name, clients[name], settings) for name in names))
    document = own_document(app)
    for name, doc in zip(names, docs, strict=True):
        if doc is not None:
            merge_service(document, name, doc)
    return document, all(doc is not None for doc in docs)


def own_document(app: FastAPI) -> dict[str, Any]:
    document = copy.deepcopy(app.openapi())
    document.setdefault("components", {})["securitySchemes"] = SECURITY_SCHEMES
    document["security"] = [{name: []} for name in SECURITY_SCHEMES]
    document.setdefault("components", {}).setdefault("headers", {}).update(RATE_LIMIT_HEADERS)
    for item in document.setdefault("paths", {}).values():
        for op in item.values():
            publish(op, public=False, proxied=False)
    return document


async def _fetch(name: str, client: httpx.AsyncClient, settings: Settings) -> dict[str, Any] | None:
    token = sign_internal_token(Principal.service("gateway"), settings.internal_secret.get_secret_value())
    try:
        response = await client.get("/openapi.json", headers={INTERNAL_HEADER: token})
        response.raise_for_status()
        doc = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        logger.warning("openapi of a service unavailable", extra={"upstream": name, "error": repr(exc)})
        return None
    return doc if isinstance(doc, dict) else None
