"""Function-level authorisation: every route class × every role and partner key, through the gateway."""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

import pytest

from crm_gateway.auth import permissions
from crm_gateway.auth.permissions import ANY, CLASSES, RULES, SCOPES, classify
from crm_gateway.proxy import routing
from crm_gateway.users.models import Role

DOCS = Path(__file__).resolve().parents[2] / "docs" / "security.md"
GATEWAY_OWN = ("users", "api-keys", "audit")
CUSTOMER = str(uuid.uuid4())


def _samples() -> list[tuple[str, str, str]]:
    """One request per rule and method: (method, service path, expected class)."""
    out = []
    for rule in RULES:
        path = "/".join(CUSTOMER if part == ANY else part for part in rule.pattern)
        # One segment more where the rule allows it, so that the fakes' echo route records the call.
        path += "" if rule.exact else "/probe"
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            # Stay on the rule: a longer path could belong to a more specific earlier rule.
            expected = classify(method, path.split("/"))
            if expected == rule.route_class:
                out.append((method, path, expected))
    return out


SAMPLES = _samples()


def test_every_rule_is_reachable_by_some_request():
    assert {cls for _, _, cls in SAMPLES} == set(CLASSES) - {"customers.erase"}
    assert all(rc.scope is None or rc.scope in SCOPES for rc in CLASSES.values())


@pytest.mark.parametrize("route", routing.ROUTES, ids=lambda r: "/".join(r.pattern))
def test_every_routed_area_can_be_read_by_someone(route):
    path = ["x" if part == ANY else part for part in route.pattern]
    assert classify("GET", path) is not None
    assert classify("GET", [*path, "x", "y"]) is not None


async def test_a_route_no_rule_names_is_closed_even_to_admins(gateway, admin_headers):
    assert classify("POST", ["scores"]) is None

    response = await gateway.client.post("/api/v1/scores", headers=admin_headers, json={})

    assert response.status_code == 403
    assert response.json()["code"] == "route_not_allowed"
    assert gateway.seen("scoring") == []


def test_docs_show_the_matrix_the_code_enforces():
    text = DOCS.read_text(encoding="utf-8")
    match = re.search(r"<!-- matrix:start -->\n(.*?)\n<!-- matrix:end -->", text, re.S)
    assert match, "docs/security.md lacks the matrix markers"
    assert match.group(1).strip() == permissions.matrix_markdown().strip()


async def _call(gateway: Any, method: str, path: str, headers: dict[str, str]) -> int:
    body = {} if method in {"POST", "PUT", "PATCH"} else None
    response = await gateway.client.request(method, f"/api/v1/{path}", headers=headers, json=body)
    return response.status_code


async def test_role_and_scope_matrix_is_enforced_on_every_route_class(gateway, admin_headers):
    callers: dict[str, tuple[dict[str, str], Role | None, frozenset[str]]] = {
        "admin": (admin_headers, Role.admin, frozenset())
    }
    for role in (Role.manager, Role.agent, Role.analyst):
        callers[role.value] = ((await gateway.signed_in(role))[1], role, frozenset())
    for scope in SCOPES:
        _, secret = await gateway.add_key({scope})
        callers[f"key:{scope}"] = ({"X-API-Key": secret}, None, frozenset({scope}))
    wrong: list[str] = []
    for method, path, route_class in SAMPLES:
        for name, (headers, role, scopes) in callers.items():
            kind = "user" if role else "api_key"
            allowed = permissions.allows(route_class, role=role.value if role else None, scopes=scopes, kind=kind)
            upstream = routing.resolve(path)
            before = sum(len(gateway.seen(u)) for u in ("customer", "scoring", "feedback"))
            status = await _call(gateway, method, path, headers)
            reached = sum(len(gateway.seen(u)) for u in ("customer", "scoring", "feedback")) > before
            if allowed and (status in {401, 403} or (upstream is not None and not reached)):
                wrong.append(f"{name} {method} {path}: {status}, expected to pass")
            if not allowed and (status != 403 or reached):
                wrong.append(f"{name} {method} {path}: {status}, expected 403")
    assert wrong == []


# Written out by hand, apart from the matrix, so that a wrong entry in the matrix itself is caught.
WHAT_EACH_ROLE_MAY_DO = [
    (Role.analyst, "GET", "customers", 403),
    (Role.analyst, "GET", f"customers/{CUSTOMER}", 403),
    (Role.analyst, "GET", f"customers/{CUSTOMER}/orders", 403),
    (Role.analyst, "GET", "analytics/retention", 200),
    (Role.analyst, "GET", "scores", 200),
    (Role.analyst, "POST", "scoring/runs", 403),
    (Role.agent, "GET", f"customers/{CUSTOMER}", 200),
    (Role.agent, "POST", "scoring/runs", 403),
    (Role.agent, "DELETE", f"customers/{CUSTOMER}", 403),
    (Role.manager, "DELETE", f"customers/{CUSTOMER}", 200),
    (Role.manager, "DELETE", f"customers/{CUSTOMER}?erase=true", 403),
    (Role.manager, "GET", "users", 403),
    (Role.manager, "GET", "audit", 403),
    (Role.admin, "DELETE", f"customers/{CUSTOMER}?erase=true", 200),
    (Role.admin, "POST", "scoring/runs", 201),
]


async def test_what_each_role_may_do(gateway, admin_headers):
    headers = {Role.admin: admin_headers}
    for role in (Role.manager, Role.agent, Role.analyst):
        headers[role] = (await gateway.signed_in(role))[1]
    wrong = []
    for role, method, path, status in WHAT_EACH_ROLE_MAY_DO:
        response = await gateway.client.request(method, f"/api/v1/{path}", headers=headers[role])
        code = response.json().get("code") if status == 403 else None
        if response.status_code != status or code not in {None, "role_not_allowed"}:
            wrong.append(f"{role.value} {method} {path}: {response.status_code} {code}")
    assert wrong == []


async def test_partner_key_is_held_to_its_scopes(gateway):
    _, secret = await gateway.add_key({"customers:read", "orders:write"})
    headers = {"X-API-Key": secret}

    assert (await gateway.client.get("/api/v1/customers", headers=headers)).status_code == 200
    assert (await gateway.client.post("/api/v1/orders", headers=headers, json={})).status_code == 201
    refused = await gateway.client.post("/api/v1/customers", headers=headers, json={})
    assert refused.status_code == 403
    assert refused.json()["code"] == "insufficient_scope"
    assert refused.json()["required_scope"] == "customers:write"
    assert (await gateway.client.get("/api/v1/users", headers=headers)).json()["code"] == "scope_not_allowed"


async def test_survey_responses_need_no_sign_in_and_nothing_else_does(gateway):
    response = await gateway.client.post("/api/v1/surveys/responses", json={"token": "t", "answers": {}})

    assert response.status_code == 201
    principal = gateway.principal_seen("feedback")
    assert (principal.kind, principal.subject, principal.role) == ("api_key", "anonymous-survey-respondent", None)
    assert principal.scopes == frozenset({"surveys:respond"})
    for method, path in [("POST", f"surveys/{CUSTOMER}/responses"), ("GET", "surveys/responses"), ("GET", "customers")]:
        assert (await gateway.client.request(method, f"/api/v1/{path}")).status_code == 401


async def test_a_survey_is_shown_by_its_token_without_sign_in(gateway):
    shown = await gateway.client.get("/api/v1/surveys/by-token/one-use-token-value")
    assert shown.status_code == 200
    principal = gateway.principal_seen("feedback")
    assert (principal.subject, principal.role, principal.scopes) == (
        "anonymous-survey-respondent",
        None,
        frozenset({"surveys:respond"}),
    )
    for method, path in [
        ("GET", "surveys/by-token"),
        ("GET", "surveys/by-token/a/b"),
        ("POST", "surveys/by-token/one-use-token-value"),
        ("GET", f"surveys/{CUSTOMER}"),
    ]:
        assert (await gateway.client.request(method, f"/api/v1/{path}")).status_code == 401, (method, path)
