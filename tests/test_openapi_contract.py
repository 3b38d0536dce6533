"""The public OpenAPI document says what the server sends, in a form client generators can use.

The document is merged here from the real applications, as the gateway merges it at run time; the
generated clients and schemathesis check it against the running processes (test_generated_clients.py,
test_end_to_end.py).
"""

from __future__ import annotations

import importlib
import json
from typing import Any

import pytest

from crm_chassis.errors import PROBLEM_JSON
from crm_chassis.openapi import operation_id_problems
from crm_gateway.docs.merge import merge_service
from crm_gateway.docs.openapi import own_document
from crm_gateway.main import create_app as create_gateway

METHODS = ("get", "put", "post", "patch", "delete")
PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
# Terminal, idempotent actions that must work without reading first: a leaked key or a departed
# user is cut off at once, and a deleted subscription cannot be updated behind anyone's back.
UNGUARDED_DELETES = {"/api/v1/users/{user_id}", "/api/v1/api-keys/{key_id}", "/api/v1/webhooks/{webhook_id}"}
# PUTs that create what is not there yet (no version to name) and replace what is: If-Match is
# declared and needed to replace (428 otherwise), so it cannot be a required parameter.
CREATE_OR_REPLACE = {"/api/v1/loyalty/care-budgets/{period}/{care_class}"}


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    doc = own_document(create_gateway())
    for name in ("customer", "scoring", "feedback"):
        app = importlib.import_module(f"crm_{name}.main").create_app()
        merge_service(doc, name, app.openapi())
    return doc


def operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(m, p, op) for p, item in doc["paths"].items() for m, op in item.items() if m in METHODS]


def header_names(op: dict[str, Any], *, required: bool | None = None) -> set[str]:
    return {
        p["name"]
        for p in op.get("parameters", [])
        if p["in"] == "header" and (required is None or p.get("required", False) == required)
    }


def test_errors_are_one_problem_schema_and_fastapis_own_is_gone(document: dict[str, Any]) -> None:
    text = json.dumps(document)
    assert "HTTPValidationError" not in text and '"ValidationError"' not in text
    problem = document["components"]["schemas"]["Problem"]
    assert {"type", "title", "status", "detail", "code"} <= set(problem["required"])
    assert problem["properties"]["errors"]["items"] == {"$ref": "#/components/schemas/FieldError"}
    assert document["components"]["schemas"]["FieldError"]["required"] == ["field", "code", "message"]
    wrong = []
    for method, path, op in operations(document):
        for status, response in op["responses"].items():
            if int(status) >= 400 and response.get("content") != {PROBLEM_JSON: {"schema": PROBLEM_REF}}:
                wrong.append(f"{method} {path} {status}")
    assert not wrong


# first path segments the gateway answers itself, with no service behind it
GATEWAY_OWN = ("auth", "users", "api-keys", "audit", "webhooks", "meta")


def test_every_operation_documents_the_statuses_it_can_answer(document: dict[str, Any]) -> None:
    missing = []
    for method, path, op in operations(document):
        expected = {"422", "429", "503"}
        if op.get("security") != []:
            expected |= {"401", "403"}
        if "{" in path:
            expected.add("404")
        if method in ("patch", "put") or (method == "delete" and path not in UNGUARDED_DELETES):
            expected |= {"412", "428"}
        if "requestBody" in op:
            expected.add("413")
        if path.removeprefix("/api/v1/").split("/")[0] not in GATEWAY_OWN:
            expected |= {"502", "504"}  # proxied to a service
        if not expected <= set(op["responses"]):
            missing.append(f"{method} {path}: {sorted(expected - set(op['responses']))}")
    assert not missing


def test_clients_can_see_the_headers_the_server_reads_and_sends(document: dict[str, Any]) -> None:
    problems = []
    for method, path, op in operations(document):
        where = f"{method} {path}"
        if method == "post" and op.get("security") != [] and "Idempotency-Key" not in header_names(op):
            problems.append(f"{where}: no Idempotency-Key")
        guarded = method in ("patch", "put") or (method == "delete" and path not in UNGUARDED_DELETES)
        if guarded and method == "put" and path in CREATE_OR_REPLACE:
            if "If-Match" not in header_names(op):
                problems.append(f"{where}: no If-Match")
        elif guarded and "If-Match" not in header_names(op, required=True):
            problems.append(f"{where}: no required If-Match")
        if "If-None-Match" in header_names(op) and "ETag" not in op["responses"]["304"]["headers"]:
            problems.append(f"{where}: 304 without ETag")
        for status, response in op["responses"].items():
            headers = set(response.get("headers", {}))
            if not {"X-Request-ID", "RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"} <= headers:
                problems.append(f"{where} {status}: request id or rate-limit headers missing")
            if status in ("201", "202") and "Location" not in headers:
                problems.append(f"{where} {status}: no Location")
            if status in ("429", "503") and "Retry-After" not in headers:
                problems.append(f"{where} {status}: no Retry-After")
    # reads of single versioned resources answer 304 to If-None-Match
    assert "If-None-Match" in header_names(document["paths"]["/api/v1/customers/{customer_id}"]["get"])
    assert not problems
    for name in ("ETag", "Location", "Retry-After", "X-Request-ID", "RateLimit-Limit"):
        assert name in document["components"]["headers"]


def test_operation_ids_are_short_unique_and_camel_case(document: dict[str, Any]) -> None:
    assert operation_id_problems(document) == []
    ids = {op["operationId"] for _, _, op in operations(document)}
    assert {"listCustomers", "createCustomer", "recordOrder", "readScoreCard", "startRun"} <= ids


def test_schema_names_are_unique_and_agree_with_their_titles(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    assert {name: s.get("title") for name, s in schemas.items() if s.get("title") != name} == {}
    # A service-prefixed name means two services declared different schemas under one name.
    assert [name for name in schemas if "_" in name] == []
    assert {"ContactRole", "Role", "RunProgress", "OrderPage", "CustomerListItemPage"} <= set(schemas)


# Members that really are free-form maps: what a customer's custom fields, a survey's answers, an
# export's filters, a hand-over's filter, a history entry's changes and a parked event hold is the caller's own data.
FREE_FORM_MEMBERS = {"custom_fields", "answers", "filters", "filter", "changes", "item"}


def _free_form(schema: dict[str, Any]) -> bool:
    if schema == {}:
        return True
    extra = schema.get("additionalProperties", True)
    return schema.get("type") == "object" and not schema.get("properties") and extra in (True, {})


def test_responses_declare_their_shapes(document: dict[str, Any]) -> None:
    """No 2xx JSON answer is a free-form object, and no member of one is but the free-form maps above:
    a client generated from the document knows every member it receives."""
    schemas = document["components"]["schemas"]

    def resolve(schema: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in schema:
            schema = schemas[schema["$ref"].removeprefix("#/components/schemas/")]  # KeyError: dangling
        return schema

    def walk(schema: dict[str, Any], where: str, seen: frozenset[str]) -> list[str]:
        ref = schema.get("$ref")
        if ref in seen:
            return []
        seen, schema = (seen | {ref} if ref else seen), resolve(schema)
        if _free_form(schema):
            return [] if where.rsplit(".", 1)[-1].rstrip("[]") in FREE_FORM_MEMBERS else [where]
        found = [f for name, s in schema.get("properties", {}).items() for f in walk(s, f"{where}.{name}", seen)]
        for key in ("anyOf", "oneOf", "allOf"):
            found += [f for s in schema.get(key, []) for f in walk(s, where, seen)]
        if isinstance(schema.get("items"), dict):
            found += walk(schema["items"], f"{where}[]", seen)
        if isinstance(schema.get("additionalProperties"), dict):
            found += walk(schema["additionalProperties"], f"{where}{{}}", seen)
        return found

    top, nested = [], []
    for method, path, op in operations(document):
        for status, response in op["responses"].items():
            json_body = response.get("content", {}).get("application/json")
            if not status.startswith("2") or json_body is None:
                continue
            where = f"{method} {path} {status}"
            if _free_form(resolve(json_body.get("schema", {}))):
                top.append(where)
            else:
                nested += walk(json_body["schema"], where, frozenset())
    assert top == []
    assert nested == []
    validation = document["paths"]["/api/v1/scoring/runs/{run_id}/validation"]["get"]["responses"]["200"]
    assert set(validation["content"]) == {"application/json", "image/svg+xml"}
