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

from crm_gateway.models import Role

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
    "bulk.data": RouteClass(_LEADS, None, "CSV imports and exports"),
    "scores.read": RouteClass(_ALL, "scores:read", "score cards and score lists"),
    "scoring.read": RouteClass(_ANALYSTS, None, "scoring runs, fitted model, scoring settings: reads"),
    "scoring.admin": RouteClass(_ADMIN, None, "start runs, change scoring settings"),
    "care.read": RouteClass(_STAFF, None, "who to contact next"),
    "analytics.read": RouteClass(_ANALYSTS, "analytics:read", "aggregate analytics"),
    "feedback.read": RouteClass(_STAFF, None, "complaints, suggestions, service records, SLA policies: reads"),
    "feedback.write": RouteClass(_STAFF, "feedback:write", "complaints, suggestions, service records: changes"),
    "feedback.admin": RouteClass(_ADMIN, None, "SLA policies: changes"),
    "surveys.read": RouteClass(_STAFF, None, "survey definitions, invitations, responses"),
    "surveys.report": RouteClass(_ALL, None, "survey reports (aggregates)"),
    "surveys.manage": RouteClass(_LEADS, None, "define, change, delete surveys"),
    "surveys.invite": RouteClass(_STAFF, None, "invite customers to a survey"),
    "surveys.respond": RouteClass(_STAFF, "surveys:respond", "submit a survey response"),
    "identity.admin": RouteClass(_ADMIN, None, "users, API keys, audit log"),
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
    *_rules(READ | WRITE, "identity.admin", "users", "api-keys", "audit"),
    *_rules(READ | WRITE, "webhooks.admin", "webhooks"),
    *_rules(READ, "scores.read", "customers/*/scores", "scores"),
    *_rules(READ, "scoring.read", "scoring"),
    *_rules(WRITE, "scoring.admin", "scoring"),
    *_rules(READ, "care.read", "care"),
    *_rules(READ, "analytics.read", "analytics"),
    *_rules(POST, "surveys.respond", "surveys/responses", "surveys/*/responses", exact=True),
    *_rules(POST, "surveys.invite", "surveys/*/invitations", exact=True),
    *_rules(READ, "surveys.report", "surveys/*/report"),
    *_rules(READ, "surveys.read", "surveys"),
    *_rules(WRITE, "surveys.manage", "surveys"),
    *_rules(READ, "feedback.read", "sla-policies", *_FEEDBACK_AREAS),
    *_rules(WRITE, "feedback.admin", "sla-policies"),
    *_rules(WRITE, "feedback.write", *_FEEDBACK_AREAS),
    *_rules(READ, "customers.read", "orders"),
    *_rules(WRITE, "orders.write", "orders"),
    *_rules(READ | WRITE, "bulk.data", "imports", "exports"),
    *_rules(DELETE, "customers.delete", "customers/*", exact=True),
    *_rules(READ, "customers.read", *_CUSTOMER_AREAS),
    *_rules(WRITE, "customers.write", *_CUSTOMER_AREAS),
)
# Reached without signing in: a customer answering an online survey holds only its one-use token.
PUBLIC: frozenset[tuple[str, str]] = frozenset({("POST", "surveys/responses")})


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
    return (method.upper(), "/".join(segments)) in PUBLIC


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
