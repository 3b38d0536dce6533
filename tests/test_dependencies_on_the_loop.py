"""Every dependency and endpoint of every route runs on the event loop.

FastAPI runs a plain `def` dependency or endpoint in a worker thread: two thread switches and a
wake-up of the loop per call, on every request of the route, for what is usually a field read. The
list is read from the four apps' route tables, so a new plain `def` dependency fails here.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.security import OAuth2PasswordRequestForm

from crm_customer.config import Settings as CustomerSettings
from crm_customer.main import create_app as customer_app
from crm_feedback.config import Settings as FeedbackSettings
from crm_feedback.main import create_app as feedback_app
from crm_gateway.config import Settings as GatewaySettings
from crm_gateway.main import create_app as gateway_app
from crm_scoring.config import Settings as ScoringSettings
from crm_scoring.main import create_app as scoring_app

# FastAPI's own form class: only the sign-in route uses it, a few calls a minute at most.
ALLOWED: frozenset[Any] = frozenset({OAuth2PasswordRequestForm})


def apps() -> dict[str, FastAPI]:
    memory = {"database_url": "sqlite+aiosqlite://"}
    return {
        "gateway": gateway_app(GatewaySettings(environment="test", **memory)),
        "customer": customer_app(CustomerSettings(environment="test", consume_events=False, **memory)),
        "scoring": scoring_app(
            ScoringSettings(environment="test", consume_events=False, rescore_workers=False, **memory)
        ),
        "feedback": feedback_app(
            FeedbackSettings(environment="test", consume_events=False, run_sla_checks=False, **memory)
        ),
    }


def on_the_loop(call: Callable[..., Any]) -> bool:
    """A coroutine or async generator function, or an instance whose `__call__` is one."""
    candidates = [call]
    if not inspect.isfunction(call) and not inspect.isclass(call):
        candidates.append(type(call).__call__)
    return any(inspect.iscoroutinefunction(c) or inspect.isasyncgenfunction(c) for c in candidates)


def calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    for sub in dependant.dependencies:
        if sub.call is not None:
            yield sub.call
        yield from calls(sub)


def test_no_route_sends_a_call_to_a_worker_thread() -> None:
    threaded: set[str] = set()
    routes = 0
    for name, app in apps().items():
        for context in iter_route_contexts(app.routes):
            route = context.original_route
            if not isinstance(route, APIRoute):
                continue
            routes += 1
            for call in (route.endpoint, *calls(route.dependant)):
                if call not in ALLOWED and not on_the_loop(call):
                    where = f"{getattr(call, '__module__', '?')}.{getattr(call, '__qualname__', call)}"
                    threaded.add(f"{name}: {where}")
    assert routes > 150  # the four route tables were read
    assert not threaded, "plain `def` dependencies or endpoints (make them `async def`):\n" + "\n".join(
        sorted(threaded)
    )
