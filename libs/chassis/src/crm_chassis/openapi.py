"""The OpenAPI contract: a service's document says what the server really sends.

FastAPI documents a 422 as its own `HTTPValidationError`, and knows nothing of what the chassis
adds around a route: problem+json errors, ETags and conditional requests, idempotency keys, body
limits, request ids. Clients generated from the document then crash on every error and cannot send
the headers the server asks for. `install_contract` rewrites each app's generated document so that:

- every error status an operation can answer is documented, as `application/problem+json` with
  the one shared `Problem` schema (the 422 variant carries `errors[]` of `{field, code, message}`);
- the request headers the chassis reads are parameters: `Idempotency-Key` on every POST,
  `If-Match` (required) where a route guards a write with it, `If-None-Match` where a read answers
  304;
- the response headers are declared: `X-Request-ID` everywhere, `ETag` on versioned resources,
  `Location` on 201/202 and redirects;
- operation ids are the endpoint's name in camelCase (`list_customers` → `listCustomers`), and
  every schema's `title` is its name.

What a route does is read from the route itself, so the document cannot drift from it: a route
whose endpoint calls `require_if_match` requires `If-Match`, one that calls `not_modified` answers
304, and a dependency marked with `responds(...)` adds its statuses to every route that uses it.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterable, Iterator
from http import HTTPStatus
from typing import Any, TypeVar

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts

from crm_chassis.errors import PROBLEM_JSON

F = TypeVar("F", bound=Callable[..., Any])
METHODS = ("get", "put", "post", "patch", "delete")
_SCHEMA_REF = "#/components/schemas/"
_RESPONSES_ATTR = "__crm_responses__"

PROBLEM_SCHEMAS: dict[str, Any] = {
    "FieldError": {
        "title": "FieldError",
        "type": "object",
        "description": "One invalid input: where it is (`body.amount`, `query.from`), a stable code, and a message.",
        "properties": {
            "field": {"type": "string", "title": "Field"},
            "code": {"type": "string", "title": "Code"},
            "message": {"type": "string", "title": "Message"},
        },
        "required": ["field", "code", "message"],
    },
    "Problem": {
        "title": "Problem",
        "type": "object",
        "description": "An RFC 9457 problem. `code` is stable and documented; `detail` is for people. "
        "A 422 carries `errors`; other members (such as `current_etag` or `differing`) extend a problem "
        "where its documentation says so.",
        "properties": {
            "type": {"type": "string", "title": "Type"},
            "title": {"type": "string", "title": "Title"},
            "status": {"type": "integer", "title": "Status"},
            "detail": {"type": "string", "title": "Detail"},
            "instance": {"anyOf": [{"type": "string"}, {"type": "null"}], "title": "Instance"},
            "code": {"type": "string", "title": "Code"},
            "request_id": {"anyOf": [{"type": "string"}, {"type": "null"}], "title": "Request Id"},
            "errors": {"type": "array", "items": {"$ref": _SCHEMA_REF + "FieldError"}, "title": "Errors"},
        },
        "required": ["type", "title", "status", "detail", "code"],
        "additionalProperties": True,
    },
}

HEADERS: dict[str, Any] = {
    "X-Request-ID": {
        "description": "The request's id, the caller's own if it sent one; it is in every log line.",
        "schema": {"type": "string"},
    },
    "ETag": {
        "description": "The version of the resource, for If-Match and If-None-Match.",
        "schema": {"type": "string"},
    },
    "Location": {"description": "Where the created or moved resource is.", "schema": {"type": "string"}},
    "Retry-After": {"description": "Seconds to wait before trying again.", "schema": {"type": "integer"}},
}

# Why each error status can happen, in the words a client developer needs.
REASONS = {
    304: "Not modified: the If-None-Match header names the current version.",
    301: "Moved: the resource was merged into the one in `Location`.",
    400: "The body could not be read as JSON text (not UTF-8, say).",
    401: "Not signed in, or the token or key is invalid or expired.",
    403: "Signed in, but this role or key scope may not do this.",
    404: "Not found, or not visible to the caller.",
    409: "Conflicts with the current state (a duplicate, a running request with the same Idempotency-Key, ...).",
    412: "If-Match does not name the current version: read it again and retry.",
    413: "The request body is larger than this route accepts.",
    422: "Invalid input; `errors` lists each field.",
    428: "This write needs an If-Match header with the ETag of the version it changes.",
    429: "Rate limited: wait `Retry-After` seconds.",
    502: "An upstream service failed to answer properly.",
    503: "Temporarily unavailable (database, or an upstream's breaker is open): retry after `Retry-After`.",
    504: "An upstream service did not answer in time.",
}
_RETRY_AFTER = {429, 503}


def operation_id(route: APIRoute) -> str:
    """The endpoint's name in camelCase: `replay_webhook_delivery` → `replayWebhookDelivery`."""
    head, *rest = route.name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def responds(*statuses: int) -> Callable[[F], F]:
    """Mark a dependency whose use can answer these statuses, so that its routes document them."""

    def mark(fn: F) -> F:
        setattr(fn, _RESPONSES_ATTR, frozenset(statuses))
        return fn

    return mark


def problem_response(status: int) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": REASONS.get(status, HTTPStatus(status).phrase),
        "content": {PROBLEM_JSON: {"schema": {"$ref": _SCHEMA_REF + "Problem"}}},
        "headers": {"X-Request-ID": {"$ref": "#/components/headers/X-Request-ID"}},
    }
    if status in _RETRY_AFTER:
        response["headers"]["Retry-After"] = {"$ref": "#/components/headers/Retry-After"}
    return response


def header_parameter(name: str, description: str, *, required: bool = False, **schema: Any) -> dict[str, Any]:
    return {
        "name": name,
        "in": "header",
        "required": required,
        "description": description,
        "schema": {"type": "string", **schema},
    }


IDEMPOTENCY_KEY = header_parameter(
    "Idempotency-Key",
    "Any unique string (a UUID, say). A retry with the same key and body answers the stored response "
    "instead of acting twice; the same key with another body answers 422.",
    minLength=1,
    maxLength=255,
)
IF_MATCH = header_parameter("If-Match", "The ETag of the version this write changes.", required=True)
IF_NONE_MATCH = header_parameter("If-None-Match", "An ETag the caller holds: 304 if it is still current.")


def _names(fn: Callable[..., Any]) -> frozenset[str]:
    code = getattr(fn, "__code__", None)
    return frozenset(code.co_names) if code is not None else frozenset()


def _dependency_calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    for sub in dependant.dependencies:
        if sub.call is not None:
            yield sub.call
        yield from _dependency_calls(sub)


def _route_facts(route: APIRoute) -> tuple[frozenset[str], set[int]]:
    names = _names(route.endpoint)
    statuses: set[int] = set()
    for call in _dependency_calls(route.dependant):
        statuses |= getattr(call, _RESPONSES_ATTR, frozenset())
    return names, statuses


def _error_statuses(method: str, path: str, op: dict[str, Any], names: frozenset[str]) -> set[int]:
    statuses = {403, 422, 503}
    if "{" in path:
        statuses.add(404)
    if method != "get":
        statuses.add(409)
    if "requestBody" in op:
        statuses |= {400, 413}
    if "require_if_match" in names:
        statuses |= {412, 428}
    return statuses


def _add_header(response: dict[str, Any], name: str) -> None:
    response.setdefault("headers", {})[name] = {"$ref": f"#/components/headers/{name}"}


def _add_parameter(op: dict[str, Any], parameter: dict[str, Any]) -> None:
    params = op.setdefault("parameters", [])
    if not any(p.get("in") == "header" and p.get("name", "").lower() == parameter["name"].lower() for p in params):
        params.append(copy.deepcopy(parameter))


def document_errors(op: dict[str, Any], statuses: Iterable[int]) -> None:
    """Give `op` a problem+json response for each status it does not document yet."""
    responses = op.setdefault("responses", {})
    declared = {int(key) for key in responses if key.isdigit() and int(key) >= 400}
    for status in sorted(set(statuses) | declared):
        key = str(status)
        existing = responses.get(key)
        if existing is None or "HTTPValidationError" in str(existing):
            responses[key] = problem_response(status)
        elif "content" not in existing:  # declared by the route with its own description
            responses[key] = {**problem_response(status), "description": existing.get("description", "")}


def _describe(doc: dict[str, Any], app: FastAPI) -> None:
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if not isinstance(route, APIRoute) or not route.include_in_schema:
            continue
        names, extra = _route_facts(route)
        path = context.path_format or route.path_format
        item = doc.get("paths", {}).get(path, {})
        for method in (m.lower() for m in context.methods or ()):
            op = item.get(method)
            if op is None:
                continue
            statuses = _error_statuses(method, path, op, names) | {s for s in extra if s >= 400}
            document_errors(op, statuses | ({401} if op.get("security") != [] else set()))
            if method == "post" and op.get("security") != []:  # sign-in routes keep no responses
                _add_parameter(op, IDEMPOTENCY_KEY)
            if "require_if_match" in names:
                _add_parameter(op, IF_MATCH)
            if "not_modified" in names:
                _add_parameter(op, IF_NONE_MATCH)
                op["responses"]["304"] = {"description": REASONS[304], "headers": {}}
            for status in (s for s in extra if s < 400 and method == "get"):
                op["responses"][str(status)] = {"description": REASONS.get(status, HTTPStatus(status).phrase)}
            versioned = bool(names & {"require_if_match", "not_modified", "etag_for"})
            for key, response in op["responses"].items():
                _add_header(response, "X-Request-ID")
                code = int(key) if key.isdigit() else 0
                if versioned and (200 <= code < 300 or code == 304):
                    _add_header(response, "ETag")
                if code in (201, 202, 301):
                    _add_header(response, "Location")


def rewrite_refs(node: Any, renames: dict[str, str]) -> Any:
    """`node` with every `$ref` to a renamed schema pointing at its new name."""
    if isinstance(node, dict):
        out = {key: rewrite_refs(value, renames) for key, value in node.items()}
        ref = out.get("$ref")
        if isinstance(ref, str) and ref.startswith(_SCHEMA_REF) and ref[len(_SCHEMA_REF) :] in renames:
            out["$ref"] = _SCHEMA_REF + renames[ref[len(_SCHEMA_REF) :]]
        return out
    if isinstance(node, list):
        return [rewrite_refs(value, renames) for value in node]
    return node


_IDENTIFIER = re.compile(r"^[A-Za-z][A-Za-z0-9]*$")


def _name_schemas(doc: dict[str, Any]) -> dict[str, Any]:
    """Schemas named as their classes are: pydantic names `Page[OrderRead]` `Page_OrderRead_` while its
    class (and title) is `OrderPage`. Every title then equals its name, which generators rely on."""
    schemas: dict[str, Any] = doc.setdefault("components", {}).setdefault("schemas", {})
    renames = {
        name: schema["title"]
        for name, schema in schemas.items()
        if schema.get("title") != name
        and _IDENTIFIER.match(str(schema.get("title", "")))
        and schema["title"] not in schemas
    }
    # A form or multipart body FastAPI names `Body_<operation id>`: `Body_startImport` → `StartImportBody`.
    for name in schemas:
        if name.startswith("Body_") and _IDENTIFIER.match(rest := name.removeprefix("Body_")):
            renames[name] = rest[:1].upper() + rest[1:] + "Body"
    if len(set(renames.values())) != len(renames) or set(renames.values()) & set(schemas):
        renames = {}  # two would take the same name: keep pydantic's
    renamed: dict[str, Any] = rewrite_refs(doc, renames)
    schemas = renamed["components"]["schemas"]
    renamed["components"]["schemas"] = {renames.get(name, name): schema for name, schema in schemas.items()}
    return renamed


def _clean_components(doc: dict[str, Any]) -> dict[str, Any]:
    doc = _name_schemas(doc)
    components = doc["components"]
    schemas = components["schemas"]
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    schemas.update(copy.deepcopy(PROBLEM_SCHEMAS))
    for name, schema in schemas.items():
        schema["title"] = name
    components.setdefault("headers", {}).update(copy.deepcopy(HEADERS))
    return doc


def contract_document(base: dict[str, Any], app: FastAPI) -> dict[str, Any]:
    """A copy of FastAPI's document for `app`, made to say what the server really sends."""
    doc = _clean_components(copy.deepcopy(base))
    _describe(doc, app)
    return doc


def install_contract(app: FastAPI) -> None:
    """Serve `contract_document` as the app's OpenAPI document (rebuilt when the routes change)."""
    cache: dict[str, Any] = {}

    def openapi() -> dict[str, Any]:
        base = FastAPI.openapi(app)
        if cache.get("base") is not base:
            cache["base"], cache["doc"] = base, contract_document(base, app)
        document: dict[str, Any] = cache["doc"]
        return document

    app.openapi = openapi  # type: ignore[method-assign]


_CAMEL = re.compile(r"^[a-z][a-zA-Z0-9]*$")


def operation_id_problems(doc: dict[str, Any], max_length: int = 40) -> list[str]:
    """What is wrong with a document's operation ids: missing, duplicated, too long or not camelCase."""
    seen: dict[str, str] = {}
    problems = []
    for path, item in doc.get("paths", {}).items():
        for method, op in item.items():
            if method not in METHODS:
                continue
            where = f"{method.upper()} {path}"
            oid = op.get("operationId")
            if not oid:
                problems.append(f"{where}: no operationId")
                continue
            if oid in seen:
                problems.append(f"{where}: operationId {oid} also used by {seen[oid]}")
            seen[oid] = where
            if len(oid) > max_length or not _CAMEL.match(oid):
                problems.append(f"{where}: operationId {oid} is not camelCase of at most {max_length} characters")
    return problems
