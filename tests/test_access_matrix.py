"""The access matrix: every route × every role and partner scope, against another's object and one's own.

The expected answer of each cell comes from one table, `crm_gateway.auth.permissions` (`ENDPOINTS`
and the route classes). The routes are read from the apps' own route tables, so a route without a
rule fails here. The cells are tried through the real gateway against the three real services,
in-process, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.routing import APIRoute
from pydantic import SecretStr

from crm_chassis.consumer import EventConsumer, HttpFeedSource
from crm_chassis.db import utcnow
from crm_chassis.identity import Principal, sign_internal_token
from crm_chassis.settings import DEV_INTERNAL_SECRET
from crm_chassis.testing import BACKENDS, internal_headers, migrate, scratch_database
from crm_customer.config import Settings as CustomerSettings
from crm_customer.db import infra as customer_infra
from crm_customer.main import create_app as customer_app
from crm_customer.users.handlers import USER_HANDLERS
from crm_feedback.config import Settings as FeedbackSettings
from crm_feedback.main import create_app as feedback_app
from crm_feedback.readmodel.models import CustomerRef
from crm_gateway.api_keys import service as api_keys
from crm_gateway.api_keys.schemas import ApiKeyCreate
from crm_gateway.auth import permissions, security
from crm_gateway.auth.permissions import ANY_OBJECT, ENDPOINTS, LISTED, OWN, SCOPES
from crm_gateway.config import Settings as GatewaySettings
from crm_gateway.main import create_app as gateway_app
from crm_gateway.proxy import routing
from crm_gateway.users import service as user_service
from crm_gateway.users.models import Role
from crm_scoring import testing as scoring_events
from crm_scoring.config import Settings as ScoringSettings
from crm_scoring.main import create_app as scoring_app

ROOT = Path(__file__).parents[1]
PREFIX = "/api/v1"
SERVICES = ("customer", "scoring", "feedback")
PASSWORD = "matrix-pass-word-123"
WHEN = "2026-03-01T10:00:00Z"
# Personal fields of the two agents' customers and contacts: partner keys without customers:pii
# must find none of them in any answer, nor find a customer by them.
PERSONAL = [
    {"phone": "13800138001", "email": "own.person@example.com"},
    {"phone": "13800138002", "email": "other.person@example.com"},
]
CONTACT_PERSONAL = [
    {"phone": "13900139001", "email": "own.contact@example.com"},
    {"phone": "13900139002", "email": "other.contact@example.com"},
]
PII_VALUES = [v for group in (PERSONAL, CONTACT_PERSONAL) for item in group for v in item.values()]
OWNERS: list[str] = []


def owner_index(owner: str) -> int:
    if owner not in OWNERS:
        OWNERS.append(owner)
    return OWNERS.index(owner) % 2


def service_app(name: str, **settings: Any) -> FastAPI:
    if name == "customer":
        return customer_app(CustomerSettings(environment="test", consume_events=False, **settings))
    if name == "scoring":
        return scoring_app(ScoringSettings(environment="test", consume_events=False, rescore_workers=False, **settings))
    return feedback_app(FeedbackSettings(environment="test", consume_events=False, run_sla_checks=False, **settings))


def _api_routes(routes: Any) -> list[APIRoute]:
    out: list[APIRoute] = []
    for route in routes:
        if isinstance(route, APIRoute):
            out.append(route)
        elif hasattr(route, "original_router"):
            out += _api_routes(route.original_router.routes)
    return out


def routes_served() -> dict[tuple[str, str], str]:
    """(method, public path) → who serves it, read from the route tables of the four apps."""
    found: dict[tuple[str, str], str] = {}
    gateway = gateway_app(GatewaySettings(environment="test", database_url="sqlite+aiosqlite://"))
    for route in _api_routes(gateway.routes):
        if route.include_in_schema and route.path.startswith(PREFIX + "/"):
            for method in route.methods - {"HEAD"}:
                found[(method, route.path.removeprefix(PREFIX))] = "gateway"
    for name in SERVICES:
        for route in _api_routes(service_app(name, database_url="sqlite+aiosqlite://").routes):
            if route.include_in_schema:
                for method in route.methods - {"HEAD"}:
                    found[(method, route.path)] = name
    return found


def test_every_route_of_every_app_has_a_rule_and_reaches_its_service() -> None:
    served = routes_served()
    ruled = {(e.method, e.path.split("?")[0]) for e in ENDPOINTS}
    assert sorted(set(served) - ruled) == [], "routes without a rule in permissions.ENDPOINTS"
    assert sorted(ruled - set(served)) == [], "rules for routes no app serves"
    for endpoint in ENDPOINTS:
        assert endpoint.route_class() is not None, f"{endpoint.method} {endpoint.path} is in no route class"
        owner = served[(endpoint.method, endpoint.path.split("?")[0])]
        if owner != "gateway":
            path = "/".join(endpoint.segments())
            assert routing.resolve(path) == owner, f"{endpoint.path} is not forwarded to the {owner} service"


def test_docs_show_the_route_matrix_the_code_enforces() -> None:
    text = (ROOT / "docs" / "security.md").read_text(encoding="utf-8")
    match = re.search(r"<!-- routes:start -->\n(.*?)\n<!-- routes:end -->", text, re.S)
    assert match, "docs/security.md lacks the route matrix markers"
    assert match.group(1).strip() == permissions.endpoints_markdown().strip()


@dataclass(frozen=True)
class Caller:
    name: str
    headers: dict[str, str]
    role: Role | None
    scopes: frozenset[str]

    @property
    def restricted(self) -> bool:
        """Sees only their own (an agent) or their team's (a manager) customers."""
        return self.role in (Role.agent, Role.manager)


@dataclass
class Stack:
    client: httpx.AsyncClient
    callers: list[Caller]
    objects: dict[str, dict[str, str]]  # "own" / "other" → path parameter → id


async def _seed(client: httpx.AsyncClient, admin: dict[str, str], owner: str) -> dict[str, str]:
    """One object of every kind for a customer of `owner`, created by an admin through the gateway."""

    async def post(path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = await client.post(PREFIX + path, json=body, headers=admin)
        assert response.status_code in (200, 201, 202), (path, response.text)
        return dict(response.json())

    person = await post(
        "/customers",
        {"kind": "individual", "name": f"of {owner[:8]}", "owner_id": owner, **PERSONAL[owner_index(owner)]},
    )
    org = await post("/customers", {"kind": "organization", "name": f"org {owner[:8]}", "owner_id": owner})
    survivor = await post("/customers", {"kind": "individual", "name": "survivor", "owner_id": owner})
    duplicate = await post("/customers", {"kind": "individual", "name": "duplicate", "owner_id": owner})
    return {
        "customer_id": person["id"],
        "org_id": org["id"],
        "contact_id": (
            await post(
                f"/customers/{org['id']}/contacts",
                {"name": "Boss", "roles": ["user"], **CONTACT_PERSONAL[owner_index(owner)]},
            )
        )["id"],
        "order_id": (
            await post("/orders", {"customer_id": person["id"], "occurred_at": WHEN, "amount": "10", "currency": "CNY"})
        )["id"],
        "interaction_id": (
            await post(
                f"/customers/{person['id']}/interactions",
                {"occurred_at": WHEN, "channel": "phone", "direction": "inbound", "summary": "s"},
            )
        )["id"],
        "merge_id": (await post(f"/customers/{survivor['id']}/merge", {"duplicate_id": duplicate["id"]}))["id"],
    }


async def _seed_feedback(client: httpx.AsyncClient, admin: dict[str, str], ids: dict[str, str], survey: str) -> None:
    async def post(path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = await client.post(PREFIX + path, json=body, headers=admin)
        assert response.status_code == 201, (path, response.text)
        return dict(response.json())

    customer = ids["customer_id"]
    ids["complaint_id"] = (
        await post(
            "/complaints",
            {
                "customer_id": customer,
                "channel": "phone",
                "category": "delivery",
                "severity": "low",
                "description": "x",
            },
        )
    )["id"]
    ids["suggestion_id"] = (await post("/suggestions", {"customer_id": customer, "topic": "app", "text": "t"}))["id"]
    ids["record_id"] = (
        await post(
            "/service-records",
            {"customer_id": customer, "type": "repair", "service_date": "2026-05-01", "handler": "Li"},
        )
    )["id"]
    invitation = (await post(f"/surveys/{survey}/invitations", {"customer_ids": [customer], "channel": "phone"}))[
        "items"
    ][0]["id"]
    ids["response_id"] = (
        await post(
            f"/surveys/{survey}/responses", {"invitation_id": invitation, "channel": "phone", "answers": {"overall": 4}}
        )
    )["id"]
    ids["survey_id"] = survey


@pytest.fixture(scope="module", params=BACKENDS)
async def stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    tmp = tmp_path_factory.mktemp("matrix")
    original = security._hasher, security._DUMMY_HASH
    security._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    security._DUMMY_HASH = security._hasher.hash("dummy")
    urls: dict[str, str] = {}
    managers = []
    try:
        for name in (*SERVICES, "gateway"):
            manager = scratch_database(request.param, tmp, name)
            urls[name] = await manager.__aenter__()
            managers.append(manager)
            await migrate(ROOT / ("gateway" if name == "gateway" else f"services/{name}") / "alembic.ini", urls[name])
        apps = {name: service_app(name, database_url=urls[name], data_dir=tmp) for name in SERVICES}
        admin_email = "matrix-admin@crm.test"
        gateway = gateway_app(
            GatewaySettings(
                environment="test",
                database_url=urls["gateway"],
                jwt_secret=SecretStr("matrix-jwt-secret-" + "0123456789abcdef" * 3),
                internal_secret=SecretStr(DEV_INTERNAL_SECRET),
                bootstrap_admin_email=admin_email,
                bootstrap_admin_password=SecretStr(PASSWORD),
                rate_limit_per_minute=1_000_000,
                login_max_failures_per_address=10_000,
                webhook_workers=False,
                log_level="WARNING",
            ),
            transports={name: httpx.ASGITransport(app) for name, app in apps.items()},
        )
        async with (
            apps["customer"].router.lifespan_context(apps["customer"]),
            apps["scoring"].router.lifespan_context(apps["scoring"]),
            apps["feedback"].router.lifespan_context(apps["feedback"]),
            gateway.router.lifespan_context(gateway),
            httpx.AsyncClient(transport=httpx.ASGITransport(gateway), base_url="http://gateway.test") as client,
        ):
            yield await _build(client, gateway, apps, admin_email)
    finally:
        for manager in reversed(managers):
            await manager.__aexit__(None, None, None)
        security._hasher, security._DUMMY_HASH = original


async def _login(client: httpx.AsyncClient, email: str) -> dict[str, str]:
    response = await client.post(PREFIX + "/auth/token", data={"username": email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def _build(client: httpx.AsyncClient, gateway: FastAPI, apps: dict[str, FastAPI], admin_email: str) -> Stack:
    admin = await _login(client, admin_email)
    ids: dict[str, uuid.UUID] = {}
    emails: dict[str, str] = {}
    async with gateway.state.sessionmaker.begin() as session:
        for name, role in (("manager", Role.manager), ("analyst", Role.analyst)):
            emails[name] = f"{name}@crm.test"
            user = await user_service.create(
                session, email=emails[name], password=PASSWORD, role=role, name=name, is_active=True, manager_id=None
            )
            ids[name] = user.id
        for name, boss in (("agent", ids["manager"]), ("other-agent", None)):
            emails[name] = f"{name}@crm.test"
            user = await user_service.create(
                session,
                email=emails[name],
                password=PASSWORD,
                role=Role.agent,
                name=name,
                is_active=True,
                manager_id=boss,
            )
            ids[name] = user.id
        keys = {}
        for scope in SCOPES:
            _, keys[scope] = await api_keys.create(session, ApiKeyCreate(name=scope, scopes=[scope]), created_by=None)
    await _customer_learns_users(client, apps["customer"])
    callers = [Caller("admin", admin, Role.admin, frozenset())]
    for name, role in (("manager", Role.manager), ("agent", Role.agent), ("analyst", Role.analyst)):
        callers.append(Caller(name, await _login(client, emails[name]), role, frozenset()))
    callers += [Caller(f"key {scope}", {"X-API-Key": key}, None, frozenset({scope})) for scope, key in keys.items()]

    objects = {
        "own": await _seed(client, admin, str(ids["agent"])),
        "other": await _seed(client, admin, str(ids["other-agent"])),
    }
    # The read models learn the customers as the customer service's events would tell them.
    async with apps["feedback"].state.sessionmaker.begin() as session:
        for whose, owner in (("own", ids["agent"]), ("other", ids["other-agent"])):
            for key in ("customer_id", "org_id"):
                session.add(
                    CustomerRef(
                        id=uuid.UUID(objects[whose][key]),
                        kind="individual",
                        display_name="x",
                        owner_id=owner,
                        lifecycle_stage="active",
                        deleted=False,
                        erased=False,
                        version=1,
                        updated_at=utcnow(),
                    )
                )
    sold = datetime(2026, 3, 1, tzinfo=UTC)
    await scoring_events.apply(
        apps["scoring"].state.sessionmaker,
        *(
            e
            for whose, owner in (("own", ids["agent"]), ("other", ids["other-agent"]))
            for e in (
                scoring_events.customer(uuid.UUID(objects[whose]["customer_id"]), owner),
                scoring_events.order(uuid.UUID(objects[whose]["customer_id"]), "100.00", sold),
                scoring_events.order(uuid.UUID(objects[whose]["customer_id"]), "50.00", sold + timedelta(days=30)),
            )
        ),
    )
    scoring = httpx.AsyncClient(transport=httpx.ASGITransport(apps["scoring"]), base_url="http://scoring")
    async with scoring:
        # a live run writes the cards; a backtest keeps its results under the run
        ran = await scoring.post("/scoring/runs", json={}, headers=internal_headers())
        assert ran.status_code == 202, ran.text
        looked_back = await scoring.post("/scoring/runs", json={"as_of": "2026-06-01"}, headers=internal_headers())
        assert looked_back.status_code == 202, looked_back.text
        for whose in ("own", "other"):
            objects[whose]["run_id"] = looked_back.json()["id"]
    for whose in ("own", "other"):
        customer_id = uuid.UUID(objects[whose]["customer_id"])
        objects[whose]["action_id"] = str(
            await scoring_events.open_action(apps["scoring"].state.sessionmaker, customer_id)
        )
    questions = [{"key": "overall", "type": "rating", "text": "Overall"}]
    survey = await client.post(
        PREFIX + "/surveys", json={"title": "S", "kind": "satisfaction", "questions": questions}, headers=admin
    )
    assert survey.status_code == 201, survey.text
    for whose in ("own", "other"):
        await _seed_feedback(client, admin, objects[whose], survey.json()["id"])
    return Stack(client, callers, objects)


async def _customer_learns_users(client: httpx.AsyncClient, customer: FastAPI) -> None:
    """The customer service reads the gateway's user events, as its consumer would."""
    token = sign_internal_token(Principal.service("customer"), DEV_INTERNAL_SECRET)
    consumer = EventConsumer(
        name="gateway-events",
        source=HttpFeedSource(client, "http://gateway.test", lambda: token),
        sessionmaker=customer.state.sessionmaker,
        tables=customer_infra,
        handlers=USER_HANDLERS,
    )
    while await consumer.poll_once(wait=0):
        pass


def _path(template: str, ids: dict[str, str]) -> str:
    """The template with the ids of one owner's objects (an organisation where contacts are meant)."""
    if "{contact_id}" in template or template.endswith("/contacts"):
        ids = {**ids, "customer_id": ids["org_id"]}
    return PREFIX + re.sub(r"\{(\w+)\}", lambda m: ids.get(m.group(1), str(uuid.uuid4())), template)


def _allowed(endpoint: permissions.Endpoint, caller: Caller) -> bool:
    route_class = endpoint.route_class()
    assert route_class is not None
    kind = "api_key" if caller.role is None else "user"
    role = caller.role.value if caller.role else None
    return permissions.caller_may(route_class, role=role, scopes=caller.scopes, kind=kind)


# Routes whose objects are not seeded per owner: they are checked at the function level (403 or not).
UNSEEDED = {"job_id", "campaign_id"}


async def test_every_cell_of_the_matrix(stack: Stack) -> None:
    wrong: list[str] = []
    tried = 0
    # Reads first, then writes: a write that goes through (an admin undoing a merge) cannot hide a read.
    ordered = sorted(ENDPOINTS, key=lambda e: e.method != "GET")
    for endpoint in ordered:
        if endpoint.route_class() == permissions.PUBLIC_CLASS:
            continue  # sign-in and the anonymous survey answer: their own tests
        for caller in stack.callers:
            for whose in ("other", "own"):
                ids = stack.objects[whose]
                path = _path(endpoint.path, ids)
                body = {} if endpoint.method in ("POST", "PUT", "PATCH") else None
                # A stale If-Match: a write that reaches its object answers 412 and changes nothing.
                headers = caller.headers if endpoint.method == "GET" else {**caller.headers, "If-Match": '"0"'}
                response = await stack.client.request(endpoint.method, path, json=body, headers=headers)
                tried += 1
                status = response.status_code
                cell = f"{caller.name} {endpoint.method} {endpoint.path} ({whose}'s): {status}"
                seeded = not any(f"{{{p}}}" in endpoint.path for p in UNSEEDED)
                refusal = 401 if endpoint.route_class() == permissions.SIGNED_IN_CLASS else 403
                if not _allowed(endpoint, caller):
                    if status != refusal:
                        wrong.append(f"{cell}, expected {refusal}")
                elif status >= 500 or status == 401:
                    wrong.append(f"{cell} {response.text[:200]}")
                elif status == 403:
                    wrong.append(f"{cell}, expected to pass the role and scope check: {response.text[:200]}")
                elif endpoint.objects == OWN and seeded:
                    hidden = caller.restricted and whose == "other"
                    # A request refused before it reaches any object (an empty body) tells nothing of it.
                    before_object = status == 422 and response.json()["code"] == "validation_failed"
                    if hidden and status != 404 and not before_object:
                        wrong.append(f"{cell}, expected 404 (another's object): {response.text[:200]}")
                    if not hidden and status == 404:
                        wrong.append(f"{cell}, expected to reach the object: {response.text[:200]}")
                elif endpoint.objects == LISTED and endpoint.method == "GET" and status == 200:
                    others = {stack.objects["other"][k] for k in ("customer_id", "order_id", "interaction_id")}
                    others |= {stack.objects["other"].get(k, "") for k in ("complaint_id", "suggestion_id")}
                    leaked = sorted(i for i in others if i and i in response.text)
                    if caller.restricted and leaked:
                        wrong.append(f"{cell} lists another's objects {leaked}")
                else:
                    assert endpoint.objects in (ANY_OBJECT, LISTED, OWN)
                if status == 200 and caller.role is None and "customers:pii" not in caller.scopes:
                    shown = sorted(v for v in PII_VALUES if v in response.text)
                    if shown:
                        wrong.append(f"{cell} shows personal fields {shown} to a key without customers:pii")
                if endpoint.path.endswith("/overview") and status == 200:
                    wrong += _overview_parts(cell, response.json(), caller)
    wrong += await _searches(stack)
    print(f"access matrix: {tried} cells tried, {len(wrong)} wrong")
    assert wrong == [], "\n".join(wrong)


OVERVIEW_PARTS = {
    "scores": "customers/x/scores",
    "open_complaints": "complaints",
    "satisfaction": "analytics/satisfaction/customers/x",
}


def _overview_parts(cell: str, overview: dict[str, Any], caller: Caller) -> list[str]:
    """Each part of the overview is refused exactly when its own route refuses the caller."""
    out = []
    kind = "api_key" if caller.role is None else "user"
    role = caller.role.value if caller.role else None
    for part, path in OVERVIEW_PARTS.items():
        route_class = permissions.classify("GET", path.split("/"))
        assert route_class is not None
        may = permissions.caller_may(route_class, role=role, scopes=caller.scopes, kind=kind)
        if (overview[part] == {"forbidden": True}) == may:
            out.append(
                f"{cell}: overview part {part} is {overview[part]!r}, its own route {'allows' if may else 'refuses'}"
            )
    return out


async def _searches(stack: Stack) -> list[str]:
    """Searching customers by a phone number or email finds them only for callers who may see them."""
    out = []
    for caller in stack.callers:
        if not _allowed(permissions.Endpoint("GET", "/customers", LISTED), caller):
            continue
        masked = caller.role is None and "customers:pii" not in caller.scopes
        for whose, personal in zip(("own", "other"), PERSONAL, strict=True):
            for q in personal.values():
                response = await stack.client.get(PREFIX + "/customers", params={"q": q}, headers=caller.headers)
                found = stack.objects[whose]["customer_id"] in response.text
                expected = not masked and not (caller.restricted and whose == "other")
                if found != expected:
                    out.append(f"{caller.name} GET /customers?q={q} ({whose}'s): found={found}, expected {expected}")
    return out
