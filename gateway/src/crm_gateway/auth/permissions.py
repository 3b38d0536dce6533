"""Function-level authorisation: which role or partner scope may call which class of routes.

This module is the one place that decides it. Every public path is first sorted into a route class
by method and path (the first matching rule wins); a class names the roles and the partner scope
allowed to use it. A path no rule names is refused, so a new service route is closed until someone
puts it in a class. docs/security.md shows the same table, generated from `matrix_markdown()`.
Which objects a caller may see (an agent's own customers) is for the owning service to decide.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from crm_gateway.users.models import Role

READ = frozenset({"GET", "HEAD", "OPTIONS"})
WRITE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
POST = frozenset({"POST"})
DELETE = frozenset({"DELETE"})
ANY = "*"

SCOPES: dict[str, str] = {
    "customers:read": "read customers, contacts, interactions, orders, points and concessions",
    "customers:write": "create and change customers and their records",
    "customers:pii": "see personal fields (phone, email, address, birth date, taboos, notes) unmasked",
    "orders:write": "post orders and refunds",
    "feedback:write": "record complaints, suggestions and after-sales service records",
    "surveys:respond": "submit survey responses",
    "scores:read": "read score cards and score lists",
    "analytics:read": "read aggregate analytics",
}


@dataclass(frozen=True)
class RouteClass:
    roles: frozenset[Role]
    scope: str | None  # the partner scope that opens it; None: no partner key may call it
    description: str


_ALL = frozenset(Role)
_STAFF = frozenset({Role.admin, Role.manager, Role.agent})
_LEADS = frozenset({Role.admin, Role.manager})
_ANALYSTS = frozenset({Role.admin, Role.manager, Role.analyst})
_ADMIN = frozenset({Role.admin})

CLASSES: dict[str, RouteClass] = {
    "customers.read": RouteClass(_STAFF, "customers:read", "customers and their records: reads"),
    "customers.write": RouteClass(_STAFF, "customers:write", "customers and their records: changes"),
    "customers.delete": RouteClass(_LEADS, None, "soft-delete a customer"),
    "customers.erase": RouteClass(_ADMIN, None, "erase a customer's personal data everywhere"),
    "orders.write": RouteClass(_STAFF, "orders:write", "post, correct and refund orders"),
    "orders.batch": RouteClass(_STAFF, "orders:write", "post up to 1,000 orders and refunds in one call"),
    "customers.batch": RouteClass(_STAFF, "customers:write", "create or upsert up to 1,000 customers in one call"),
    "customers.reassign": RouteClass(
        _LEADS, None, "hand one account manager's customers over to another, and follow the job"
    ),
    "bulk.data": RouteClass(_LEADS, None, "CSV imports and exports"),
    "campaigns.read": RouteClass(_ALL, None, "campaigns, their starts and reports: reads"),
    "campaigns.members": RouteClass(_STAFF, None, "a campaign's members and responses, customer by customer"),
    "campaigns.write": RouteClass(_STAFF, None, "create, change, start and delete campaigns; record responses"),
    "scores.read": RouteClass(_ALL, "scores:read", "score cards and score lists"),
    "scoring.read": RouteClass(_ANALYSTS, None, "scoring runs, fitted model, scoring settings: reads"),
    "scoring.admin": RouteClass(_ADMIN, None, "start runs, change scoring settings"),
    "care.read": RouteClass(_STAFF, None, "who to contact next"),
    "retention.read": RouteClass(
        _STAFF | {Role.analyst}, None, "retention actions (churn countermeasures) and customers' churn reasons: reads"
    ),
    "retention.write": RouteClass(
        _STAFF, None, "set a retention action's outcome or note, record a customer's churn reason"
    ),
    "analytics.read": RouteClass(_ANALYSTS, "analytics:read", "aggregate analytics"),
    "loyalty.read": RouteClass(_ALL, None, "membership tiers and care budgets: reads"),
    "loyalty.admin": RouteClass(_ADMIN, None, "membership tiers and care budgets: changes"),
    "customers.tier": RouteClass(_LEADS, None, "set or clear a customer's tier by hand"),
    "feedback.read": RouteClass(_STAFF, None, "complaints, suggestions, service records, SLA policies: reads"),
    "feedback.write": RouteClass(_STAFF, "feedback:write", "complaints, suggestions, service records: changes"),
    "feedback.admin": RouteClass(_ADMIN, None, "SLA policies: changes"),
    "surveys.read": RouteClass(_STAFF, None, "survey definitions, invitations, responses"),
    "surveys.report": RouteClass(_ALL, None, "survey reports (aggregates)"),
    "surveys.manage": RouteClass(_LEADS, None, "define, change, delete surveys"),
    "surveys.invite": RouteClass(_STAFF, None, "invite customers to a survey"),
    "surveys.respond": RouteClass(_STAFF, "surveys:respond", "read a survey by its token, submit a survey response"),
    "identity.admin": RouteClass(_ADMIN, None, "users, API keys, audit log"),
    "operations.admin": RouteClass(_ADMIN, None, "dead-lettered events and work items: list, retry, discard"),
    "users.lookup": RouteClass(_ALL, None, "names of users by id (who owns or changed a record)"),
    "meta.read": RouteClass(_ALL, None, "enum values with display labels"),
    "webhooks.admin": RouteClass(
        _ADMIN, None, "partner webhook subscriptions, their secret rotation, deliveries and replays"
    ),
}


@dataclass(frozen=True)
class Rule:
    methods: frozenset[str]
    pattern: tuple[str, ...]
    route_class: str
    exact: bool = False  # the path has exactly the pattern's segments, not more

    def matches(self, method: str, segments: list[str]) -> bool:
        if method not in self.methods or len(segments) < len(self.pattern):
            return False
        if self.exact and len(segments) != len(self.pattern):
            return False
        return all(want in (ANY, got) for want, got in zip(self.pattern, segments, strict=False))

    def describe(self) -> str:
        names = {READ: "GET", WRITE: "writes", READ | WRITE: "any"}
        methods = names.get(self.methods, "/".join(sorted(self.methods)))
        path = "/" + "/".join("{id}" if part == ANY else part for part in self.pattern)
        return f"{methods} `{path}{'' if self.exact else '/…'}`"


def _rules(methods: frozenset[str], route_class: str, *paths: str, exact: bool = False) -> list[Rule]:
    return [Rule(methods, tuple(path.split("/")), route_class, exact) for path in paths]


_CUSTOMER_AREAS = ("customers", "interactions", "merges")
_FEEDBACK_AREAS = ("complaints", "suggestions", "service-records")
RULES: tuple[Rule, ...] = (
    *_rules(READ, "users.lookup", "users/lookup", exact=True),
    *_rules(READ, "meta.read", "meta"),
    *_rules(READ | WRITE, "identity.admin", "users", "api-keys", "audit"),
    *_rules(READ | WRITE, "webhooks.admin", "webhooks"),
    *_rules(READ | WRITE, "operations.admin", "admin/dead-letters"),
    *_rules(READ, "scores.read", "customers/*/scores", "scores"),
    *_rules(READ, "scoring.read", "scoring"),
    *_rules(WRITE, "scoring.admin", "scoring"),
    *_rules(READ, "care.read", "care"),
    *_rules(READ, "retention.read", "retention", "customers/*/churn-reasons"),
    *_rules(WRITE, "retention.write", "retention", "customers/*/churn-reasons"),
    *_rules(READ, "analytics.read", "analytics"),
    *_rules(READ, "loyalty.read", "loyalty"),
    *_rules(WRITE, "loyalty.admin", "loyalty"),
    *_rules(WRITE, "customers.tier", "customers/*/tier", exact=True),
    *_rules(POST, "surveys.respond", "surveys/responses", "surveys/*/responses", exact=True),
    *_rules(READ, "surveys.respond", "surveys/by-token/*", exact=True),
    *_rules(POST, "surveys.invite", "surveys/*/invitations", exact=True),
    *_rules(READ, "surveys.report", "surveys/*/report"),
    *_rules(READ, "surveys.read", "surveys"),
    *_rules(WRITE, "surveys.manage", "surveys"),
    *_rules(READ, "feedback.read", "sla-policies", "sla-calendars", *_FEEDBACK_AREAS),
    *_rules(WRITE, "feedback.admin", "sla-policies"),
    *_rules(WRITE, "feedback.write", *_FEEDBACK_AREAS),
    *_rules(POST, "orders.batch", "orders/batch", exact=True),
    *_rules(POST, "customers.batch", "customers/batch", exact=True),
    *_rules(POST, "customers.reassign", "customers/reassign", exact=True),
    *_rules(READ, "customers.reassign", "customers/reassign/*", exact=True),
    *_rules(READ, "customers.read", "orders", "prospects"),
    *_rules(WRITE, "orders.write", "orders"),
    *_rules(READ | WRITE, "bulk.data", "imports", "exports"),
    *_rules(READ, "campaigns.members", "campaigns/*/members", "campaigns/*/responses"),
    *_rules(READ, "campaigns.read", "campaigns"),
    *_rules(WRITE, "campaigns.write", "campaigns"),
    *_rules(DELETE, "customers.delete", "customers/*", exact=True),
    *_rules(READ, "customers.read", *_CUSTOMER_AREAS),
    *_rules(WRITE, "customers.write", *_CUSTOMER_AREAS),
)
# Reached without signing in: a customer answering an online survey holds only its one-use token,
# with which a page first shows the survey (title and questions) and then posts the answer.
# `*` stands for one path segment.
PUBLIC: frozenset[tuple[str, str]] = frozenset({("POST", "surveys/responses"), ("GET", "surveys/by-token/*")})


def classify(method: str, segments: list[str], query: Mapping[str, str] | None = None) -> str | None:
    """The route class of a request to the service path `segments`, or None when none applies."""
    method = method.upper()
    for rule in RULES:
        if rule.matches(method, segments):
            erase = (query or {}).get("erase", "").lower() in {"true", "1"}
            if rule.route_class == "customers.delete" and erase:
                return "customers.erase"
            return rule.route_class
    return None


def is_public(method: str, segments: list[str]) -> bool:
    method = method.upper()
    return any(
        public_method == method
        and len(parts := pattern.split("/")) == len(segments)
        and all(want in (ANY, got) for want, got in zip(parts, segments, strict=True))
        for public_method, pattern in PUBLIC
    )


def allows(route_class: str, *, role: str | None, scopes: frozenset[str], kind: str) -> bool:
    """Whether a caller may use `route_class`: people by role, partner keys by scope."""
    granted = CLASSES[route_class]
    if kind == "api_key":
        return granted.scope is not None and granted.scope in scopes
    return role is not None and role in {r.value for r in granted.roles}


def matrix_markdown() -> str:
    """The role × route-class table of docs/security.md."""
    roles = list(Role)
    lines = [
        "| route class | routes | " + " | ".join(r.value for r in roles) + " | partner scope |",
        "| --- | --- | " + " | ".join("---" for _ in roles) + " | --- |",
    ]
    for name, granted in CLASSES.items():
        routes = [rule.describe() for rule in RULES if rule.route_class == name]
        if name == "customers.erase":
            routes = ["DELETE `/customers/{id}?erase=true`"]
        marks = " | ".join("yes" if role in granted.roles else "—" for role in roles)
        scope = f"`{granted.scope}`" if granted.scope else "—"
        lines.append(f"| `{name}` ({granted.description}) | {'<br>'.join(routes)} | {marks} | {scope} |")
    return "\n".join(lines)


# Every public route, and which objects it reaches (the object level, decided by the owning service):
#   OWN:    one object of one customer named in the path; agents reach their own customers', managers
#           their team's, and anyone else's answers 404 as if it did not exist;
#   LISTED: a list or search, holding only what OWN would let the caller read;
#   ANY:    no object of a customer (aggregates, settings, users, keys, sign-in).
# With the route classes above this is the whole access matrix: the expected answer of every route
# for every role and partner scope, against someone else's object and one's own. A test builds the
# routes from the apps' route tables and checks each cell against the running services; docs/security.md
# shows the table (`endpoints_markdown`).
OWN, LISTED, ANY_OBJECT = "own", "listed", "any"
# Routes the gateway answers without a route class: sign-in (anyone) and the caller's own account.
PUBLIC_CLASS, SIGNED_IN_CLASS = "public", "signed-in"


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str  # under /api/v1, with `{name}` parameters; `?erase=true` marks erasure
    objects: str

    def segments(self) -> list[str]:
        return self.path.split("?")[0].removeprefix("/").split("/")

    def route_class(self) -> str | None:
        if self.path.startswith("/auth/"):
            return SIGNED_IN_CLASS if self.path == "/auth/me" else PUBLIC_CLASS
        if is_public(self.method, self.segments()):
            return PUBLIC_CLASS
        query = {"erase": "true"} if self.path.endswith("?erase=true") else None
        return classify(self.method, self.segments(), query)


def _endpoints(objects: str, *routes: str) -> list[Endpoint]:
    out = []
    for route in routes:
        methods, path = route.split(" ", 1)
        out += [Endpoint(method, path, objects) for method in methods.split(",")]
    return out


ENDPOINTS: tuple[Endpoint, ...] = (
    # gateway
    *_endpoints(ANY_OBJECT, "POST /auth/token", "POST /auth/refresh", "POST /auth/logout", "GET /auth/me"),
    *_endpoints(ANY_OBJECT, "GET,POST /users", "GET,PATCH,DELETE /users/{user_id}"),
    *_endpoints(ANY_OBJECT, "GET /users/lookup", "GET /meta/enums"),
    *_endpoints(ANY_OBJECT, "GET,POST /api-keys", "GET,DELETE /api-keys/{key_id}", "GET /audit"),
    *_endpoints(ANY_OBJECT, "GET,POST /webhooks", "GET,PATCH,DELETE /webhooks/{webhook_id}"),
    *_endpoints(ANY_OBJECT, "POST /webhooks/{webhook_id}/rotate-secret", "GET /webhooks/{webhook_id}/deliveries"),
    *_endpoints(ANY_OBJECT, "POST /webhooks/{webhook_id}/deliveries/{delivery_id}/replay"),
    *_endpoints(OWN, "GET /customers/{customer_id}/overview"),
    *_endpoints(LISTED, "GET /analytics/managers"),
    *_endpoints(ANY_OBJECT, "GET /admin/dead-letters/{service}"),
    *_endpoints(ANY_OBJECT, "POST /admin/dead-letters/{service}/{consumer}/{event_id}/retry"),
    *_endpoints(ANY_OBJECT, "POST /admin/dead-letters/{service}/{consumer}/{event_id}/discard"),
    # customer service
    *_endpoints(LISTED, "GET /customers", "GET /customers/duplicates", "GET /orders", "GET /interactions"),
    *_endpoints(LISTED, "POST /customers", "POST /customers/batch", "POST /orders", "POST /orders/batch"),
    *_endpoints(LISTED, "POST /interactions", "GET,POST /imports", "GET,POST /exports"),
    *_endpoints(LISTED, "GET /prospects/priority"),
    *_endpoints(OWN, "GET,PATCH,DELETE /customers/{customer_id}", "DELETE /customers/{customer_id}?erase=true"),
    *_endpoints(OWN, "POST /customers/{customer_id}/merge", "GET /merges/{merge_id}", "POST /merges/{merge_id}/undo"),
    *_endpoints(OWN, "POST /customers/{customer_id}/owner", "GET /customers/{customer_id}/owner-history"),
    *_endpoints(LISTED, "POST /customers/reassign"),
    *_endpoints(OWN, "GET /customers/reassign/{job_id}"),
    *_endpoints(OWN, "GET /customers/{customer_id}/history", "GET /customers/{customer_id}/referrals"),
    *_endpoints(OWN, "GET,POST /customers/{customer_id}/contacts", "GET /customers/{customer_id}/organizations"),
    *_endpoints(OWN, "GET,PATCH,DELETE /customers/{customer_id}/contacts/{contact_id}"),
    *_endpoints(OWN, "GET /customers/{customer_id}/orders", "GET,PATCH,DELETE /orders/{order_id}"),
    *_endpoints(OWN, "POST /orders/{order_id}/refunds", "GET,POST /customers/{customer_id}/interactions"),
    *_endpoints(OWN, "GET,PATCH,DELETE /interactions/{interaction_id}"),
    *_endpoints(OWN, "POST /interactions/{interaction_id}/follow-up/done"),
    *_endpoints(OWN, "GET,POST /customers/{customer_id}/points", "GET,POST /customers/{customer_id}/concessions"),
    *_endpoints(OWN, "GET,PUT,DELETE /customers/{customer_id}/tier"),
    *_endpoints(ANY_OBJECT, "GET,POST /loyalty/tiers", "GET,PATCH,DELETE /loyalty/tiers/{tier_id}"),
    *_endpoints(ANY_OBJECT, "GET /loyalty/care-budgets", "GET,PUT,DELETE /loyalty/care-budgets/{period}/{care_class}"),
    *_endpoints(ANY_OBJECT, "GET /analytics/care-budget"),
    *_endpoints(OWN, "GET /imports/{job_id}", "GET /imports/{job_id}/errors", "GET /imports/{job_id}/errors.csv"),
    *_endpoints(OWN, "GET /exports/{job_id}", "GET /exports/{job_id}/download"),
    *_endpoints(LISTED, "GET,POST /campaigns"),
    *_endpoints(OWN, "GET,PATCH,DELETE /campaigns/{campaign_id}", "POST /campaigns/{campaign_id}/start"),
    *_endpoints(OWN, "GET /campaigns/{campaign_id}/starts/{job_id}", "GET /campaigns/{campaign_id}/report"),
    *_endpoints(LISTED, "GET /campaigns/{campaign_id}/members", "GET,POST /campaigns/{campaign_id}/responses"),
    *_endpoints(OWN, "GET /campaigns/{campaign_id}/responses/{response_id}"),
    # scoring service
    *_endpoints(OWN, "GET /customers/{customer_id}/scores"),
    *_endpoints(LISTED, "GET /scores", "GET /care/due"),
    *_endpoints(ANY_OBJECT, "GET,PUT /scoring/settings", "GET,POST /scoring/runs", "GET /scoring/runs/{run_id}"),
    *_endpoints(LISTED, "GET /scoring/runs/{run_id}/scores"),
    *_endpoints(OWN, "GET /scoring/runs/{run_id}/scores/{customer_id}"),
    *_endpoints(ANY_OBJECT, "GET /scoring/runs/{run_id}/model", "GET /scoring/runs/{run_id}/validation"),
    *_endpoints(ANY_OBJECT, "GET /scoring/model", "GET /analytics/retention", "GET /analytics/churn"),
    *_endpoints(ANY_OBJECT, "GET /analytics/segments", "GET /analytics/abc"),
    *_endpoints(LISTED, "GET /retention/actions"),
    *_endpoints(OWN, "GET,PATCH /retention/actions/{action_id}", "GET,POST /customers/{customer_id}/churn-reasons"),
    # feedback service
    *_endpoints(LISTED, "GET,POST /complaints", "GET,POST /suggestions", "GET,POST /service-records"),
    *_endpoints(OWN, "GET,PATCH /complaints/{complaint_id}", "POST /complaints/{complaint_id}/transitions"),
    *_endpoints(OWN, "POST /complaints/{complaint_id}/follow-up", "GET,PATCH,DELETE /suggestions/{suggestion_id}"),
    *_endpoints(OWN, "GET,PATCH,DELETE /service-records/{record_id}"),
    *_endpoints(ANY_OBJECT, "GET,POST /sla-policies", "GET,PATCH,DELETE /sla-policies/{policy_id}"),
    *_endpoints(ANY_OBJECT, "GET /sla-calendars", "GET /sla-calendars/{calendar_id}"),
    *_endpoints(ANY_OBJECT, "GET /surveys/templates", "GET,POST /surveys/templates/{kind}"),
    *_endpoints(ANY_OBJECT, "GET /surveys/by-token/{token}"),
    *_endpoints(ANY_OBJECT, "POST /surveys/responses", "GET,POST /surveys", "GET,PATCH,DELETE /surveys/{survey_id}"),
    *_endpoints(ANY_OBJECT, "GET /surveys/{survey_id}/versions", "GET /surveys/{survey_id}/report"),
    *_endpoints(LISTED, "GET,POST /surveys/{survey_id}/invitations", "GET,POST /surveys/{survey_id}/responses"),
    *_endpoints(OWN, "GET /surveys/{survey_id}/responses/{response_id}"),
    *_endpoints(ANY_OBJECT, "GET /analytics/satisfaction", "GET /analytics/complaints"),
    *_endpoints(OWN, "GET /analytics/satisfaction/customers/{customer_id}"),
)


def caller_may(route_class: str, *, role: str | None, scopes: frozenset[str], kind: str) -> bool:
    """`allows`, with the gateway's own sign-in and account routes, which any caller reaches."""
    if route_class == PUBLIC_CLASS:
        return True
    if route_class == SIGNED_IN_CLASS:  # a person's own account: partner keys have none (401)
        return kind == "user"
    return allows(route_class, role=role, scopes=scopes, kind=kind)


def endpoints_markdown() -> str:
    """The route × role × scope table of docs/security.md: `yes`, `own` (the caller's own and, for
    a manager, the team's customers; others' answer 404 or are left out of lists), or `—` (403)."""
    roles = list(Role)
    lines = [
        "| route | class | " + " | ".join(r.value for r in roles) + " | partner scope |",
        "| --- | --- | " + " | ".join("---" for _ in roles) + " | --- |",
    ]
    for endpoint in ENDPOINTS:
        route_class = endpoint.route_class() or "(none: 403)"
        marks = []
        for role in roles:
            may = route_class in CLASSES or route_class in (PUBLIC_CLASS, SIGNED_IN_CLASS)
            if not may or not caller_may(route_class, role=role.value, scopes=frozenset(), kind="user"):
                marks.append("—")
            elif endpoint.objects != ANY_OBJECT and role in (Role.agent, Role.manager):
                marks.append("own")
            else:
                marks.append("yes")
        if route_class == PUBLIC_CLASS:
            scope = "any"
        elif route_class in CLASSES and CLASSES[route_class].scope:
            scope = f"`{CLASSES[route_class].scope}`"
        else:
            scope = "—"
        lines.append(f"| {endpoint.method} `{endpoint.path}` | `{route_class}` | {' | '.join(marks)} | {scope} |")
    return "\n".join(lines)
