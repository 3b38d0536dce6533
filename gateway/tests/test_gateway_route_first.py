"""`RouteFirst` sends a request straight to the proxy exactly when the router would have chosen it."""

from __future__ import annotations

import contextlib
import re
from typing import Any

import pytest
from fastapi import FastAPI

from crm_gateway.main import create_app
from crm_gateway.proxy.router import RouteFirst, forward

from .conftest import make_settings

METHODS = ("GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE", "TRACE")


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> FastAPI:
    # Never started: routing needs no database.
    return create_app(make_settings(f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('rf') / 'unused.db'}"))


def _paths(app: FastAPI) -> list[str]:
    """Every own route of the gateway under /api/v1 with its parameters filled in, its
    neighbours, and proxied paths."""
    shortcut = app.router.middleware_stack
    assert isinstance(shortcut, RouteFirst)
    patterns = [p.pattern for group in shortcut.by_segment.values() for p in group]
    patterns += [p.pattern for p in shortcut.anywhere]
    assert len(patterns) > 25
    paths = {
        "/api/v1/customers/42",
        "/api/v1/customers/42/scores",
        "/api/v1/analytics/churn",
        "/api/v1/users-archive",
        "/api/v1/unknown/thing",
        "/api/v1/",
        "/api/v1",
        "/api/v1/docs/assets/x.js",
        "/docs/assets/x.js",
        "/healthz",
    }
    for pattern in patterns:
        filled = re.sub(r"\(\?P<\w+>[^)]*\)", "x", pattern.removeprefix("^").removesuffix("$")).replace("\\", "")
        paths |= {filled, filled + "/", filled + "/more"}
    return sorted(paths)


async def _router_choice(app: FastAPI, method: str, path: str) -> Any:
    """The route the router itself picks (RouteFirst bypassed); None when it picks none."""
    shortcut = app.router.middleware_stack
    assert isinstance(shortcut, RouteFirst)
    scope: dict[str, Any] = {
        "type": "http",
        "method": method,
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [],
        "app": app,
        "state": {},
    }

    async def receive() -> dict[str, Any]:
        raise RuntimeError("not read in this test")

    async def send(message: dict[str, Any]) -> None:
        return None

    # The chosen route fails without a running app; it was chosen all the same.
    with contextlib.suppress(Exception):
        await shortcut.app(scope, receive, send)
    route = scope.get("route")
    return getattr(route, "endpoint", None)


async def test_a_request_taken_first_is_one_the_router_gives_the_proxy(app):
    shortcut = app.router.middleware_stack
    assert isinstance(shortcut, RouteFirst)
    checked = taken = 0
    for path in _paths(app):
        for method in METHODS:
            takes = shortcut.takes({"type": "http", "method": method, "path": path, "root_path": ""})
            chosen = await _router_choice(app, method, path)
            if takes:
                assert chosen is forward, (method, path)
                taken += 1
            # Not taken: the router decides as it always did (its own route, a 405, or the proxy
            # after a method mismatch on one of the gateway's paths).
            checked += 1
    assert checked > 300
    assert taken > 20


@pytest.mark.parametrize(
    ("method", "path", "first"),
    [
        ("GET", "/api/v1/customers/42", True),
        ("POST", "/api/v1/orders/batch", True),
        ("GET", "/api/v1/customers/42/overview", False),  # the gateway's own, under a proxied prefix
        ("POST", "/api/v1/customers/42/overview", False),  # its 405 is the router's to decide
        ("GET", "/api/v1/analytics/managers", False),
        ("GET", "/api/v1/analytics/churn", True),
        ("POST", "/api/v1/auth/token", False),
        ("GET", "/api/v1/users", False),
        ("TRACE", "/api/v1/customers/42", False),
        ("GET", "/healthz", False),
    ],
)
def test_examples(app, method, path, first):
    shortcut = app.router.middleware_stack
    assert shortcut.takes({"type": "http", "method": method, "path": path, "root_path": ""}) is first


def test_a_root_path_goes_through_the_router(app):
    scope = {"type": "http", "method": "GET", "path": "/crm/api/v1/customers/42", "root_path": "/crm"}
    assert app.router.middleware_stack.takes(scope) is False
