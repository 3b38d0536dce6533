"""Merging the services' OpenAPI documents into the one the public sees.

Pure functions over JSON-like dicts, so the rules can be tested without any service running.
"""

from __future__ import annotations

import copy
from typing import Any

from crm_chassis.openapi import document_errors, rewrite_refs
from crm_gateway.auth.permissions import is_public
from crm_gateway.config import PUBLIC_PREFIX
from crm_gateway.proxy.routing import resolve

HIDDEN_PREFIXES = ("/internal", "/healthz", "/readyz", "/metrics", "/openapi.json", "/docs", "/redoc")
HTTP_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})


def public_paths(service: str, doc: dict[str, Any]) -> dict[str, Any]:
    """The service's paths that the gateway really routes to it, under the public prefix."""
    out: dict[str, Any] = {}
    for path, item in (doc.get("paths") or {}).items():
        if path.startswith(HIDDEN_PREFIXES) or resolve(path) != service:
            continue
        out[PUBLIC_PREFIX + path] = item
    return out


def schema_renames(service: str, schemas: dict[str, Any], merged: dict[str, Any]) -> dict[str, str]:
    """Names to give the service's schemas that clash with different ones already merged.

    Renaming one schema changes every schema that refers to it, which can make those clash in
    turn, so this repeats until nothing new needs a name of its own.
    """
    renames: dict[str, str] = {}
    while True:
        added = False
        for name, schema in schemas.items():
            if name in renames or name not in merged:
                continue
            if rewrite_refs(schema, renames) != merged[name]:
                renames[name] = f"{service}_{name}"
                added = True
        if not added:
            return renames


def merge_service(merged: dict[str, Any], service: str, doc: dict[str, Any]) -> None:
    """Add one service's document to `merged` (which is changed in place)."""
    schemas = (doc.get("components") or {}).get("schemas") or {}
    target = merged.setdefault("components", {}).setdefault("schemas", {})
    renames = schema_renames(service, schemas, target)
    for name, schema in schemas.items():
        renamed = renames.get(name, name)
        # Generators name their classes after `title`, so a renamed schema carries its new name there too.
        target.setdefault(renamed, {**rewrite_refs(schema, renames), "title": renamed})
    seen_ids = {op.get("operationId") for item in merged.get("paths", {}).values() for op in _operations(item)}
    for path, item in public_paths(service, doc).items():
        item = rewrite_refs(copy.deepcopy(item), renames)
        for method, op in _methods(item):
            if op.get("operationId") in seen_ids:
                op["operationId"] = f"{service}_{op['operationId']}"
            seen_ids.add(op.get("operationId"))
            publish(op, public=is_public(method, path.removeprefix(PUBLIC_PREFIX + "/").split("/")), proxied=True)
        merged.setdefault("paths", {})[path] = item
    tags = merged.setdefault("tags", [])
    known = {tag["name"] for tag in tags}
    tags.extend(tag for tag in doc.get("tags") or [] if tag.get("name") not in known)


def _methods(item: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(method, op) for method, op in item.items() if method in HTTP_METHODS and isinstance(op, dict)]


def _operations(item: dict[str, Any]) -> list[dict[str, Any]]:
    return [op for _, op in _methods(item)]


RATE_LIMIT_HEADERS: dict[str, Any] = {
    "RateLimit-Limit": {
        "description": "Requests allowed in the window of this route's class.",
        "schema": {"type": "integer"},
    },
    "RateLimit-Remaining": {"description": "Requests left in the current window.", "schema": {"type": "integer"}},
    "RateLimit-Reset": {"description": "Seconds until the window resets.", "schema": {"type": "integer"}},
    "RateLimit-Policy": {"description": "The limit and its window, `limit;w=seconds`.", "schema": {"type": "string"}},
}


def publish(op: dict[str, Any], *, public: bool, proxied: bool) -> None:
    """What the gateway adds to an operation: its rate limits, and for a proxied one the upstream's failures.

    A public operation needs no credentials and answers no 403; it still answers 401 to a caller who
    sends credentials that are invalid, revoked or expired.
    """
    document_errors(op, {429} | ({502, 503, 504} if proxied else set()))
    if public:
        op["security"] = []
        op["responses"].pop("403", None)
    for response in op["responses"].values():
        headers = response.setdefault("headers", {})
        headers.update({name: {"$ref": f"#/components/headers/{name}"} for name in RATE_LIMIT_HEADERS})
