"""Merging the services' OpenAPI documents into the one the public sees.

Pure functions over JSON-like dicts, so the rules can be tested without any service running.
"""

from __future__ import annotations

import copy
from typing import Any

from crm_gateway.routing import PUBLIC_PREFIX, resolve

HIDDEN_PREFIXES = ("/internal", "/healthz", "/readyz", "/metrics", "/openapi.json", "/docs", "/redoc")
_REF_PREFIX = "#/components/schemas/"
HTTP_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})


def public_paths(service: str, doc: dict[str, Any]) -> dict[str, Any]:
    """The service's paths that the gateway really routes to it, under the public prefix."""
    out: dict[str, Any] = {}
    for path, item in (doc.get("paths") or {}).items():
        if path.startswith(HIDDEN_PREFIXES) or resolve(path) != service:
            continue
        out[PUBLIC_PREFIX + path] = item
    return out


def _rewrite_refs(node: Any, renames: dict[str, str]) -> Any:
    if isinstance(node, dict):
        out = {key: _rewrite_refs(value, renames) for key, value in node.items()}
        ref = out.get("$ref")
        if isinstance(ref, str) and ref.startswith(_REF_PREFIX) and ref[len(_REF_PREFIX) :] in renames:
            out["$ref"] = _REF_PREFIX + renames[ref[len(_REF_PREFIX) :]]
        return out
    if isinstance(node, list):
        return [_rewrite_refs(value, renames) for value in node]
    return node


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
            if _rewrite_refs(schema, renames) != merged[name]:
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
        target.setdefault(renames.get(name, name), _rewrite_refs(schema, renames))
    seen_ids = {op.get("operationId") for item in merged.get("paths", {}).values() for op in _operations(item)}
    for path, item in public_paths(service, doc).items():
        item = _rewrite_refs(copy.deepcopy(item), renames)
        for op in _operations(item):
            if op.get("operationId") in seen_ids:
                op["operationId"] = f"{service}_{op['operationId']}"
            seen_ids.add(op.get("operationId"))
        merged.setdefault("paths", {})[path] = item
    tags = merged.setdefault("tags", [])
    known = {tag["name"] for tag in tags}
    tags.extend(tag for tag in doc.get("tags") or [] if tag.get("name") not in known)


def _operations(item: dict[str, Any]) -> list[dict[str, Any]]:
    return [op for method, op in item.items() if method in HTTP_METHODS and isinstance(op, dict)]
