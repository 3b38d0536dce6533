"""Query strings a route does not know are refused, not ignored.

`/scores?segmnet=vip` silently answering everyone is the worst answer a list can give: the client
believes it filtered. Every application of the chassis (the services and the gateway) runs
`reject_unknown_query` before each route; it compares the parameters of the request with those the
route declares (its own, its dependencies' and those of the query models it takes) and answers 422
naming the unknown ones. A route that forwards any query string (the gateway's proxy) opts out with
`accepts_any_query`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from typing import Any, TypeVar, get_args

from fastapi import Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from pydantic import BaseModel

from crm_chassis.errors import Unprocessable

F = TypeVar("F", bound=Callable[..., Any])
_ANY_QUERY = "__crm_accepts_any_query__"
_known: dict[int, frozenset[str] | None] = {}


def accepts_any_query(endpoint: F) -> F:
    """Mark a route that takes whatever query string it is sent (and passes it on)."""
    setattr(endpoint, _ANY_QUERY, True)
    return endpoint


def _models(annotation: Any) -> Iterator[type[BaseModel]]:
    if inspect.isclass(annotation) and issubclass(annotation, BaseModel):
        yield annotation
    for arg in get_args(annotation):
        yield from _models(arg)


def _names(dependant: Dependant) -> Iterator[str]:
    for field in dependant.query_params:
        models = list(_models(field.field_info.annotation))
        if not models:
            yield field.alias
        for model in models:
            for name, info in model.model_fields.items():
                yield info.alias or name
    for sub in dependant.dependencies:
        yield from _names(sub)


def known_parameters(route: APIRoute) -> frozenset[str] | None:
    """The query parameters `route` reads, or None when it takes any."""
    key = id(route)
    if key not in _known:
        _known[key] = None if getattr(route.endpoint, _ANY_QUERY, False) else frozenset(_names(route.dependant))
    return _known[key]


async def reject_unknown_query(request: Request) -> None:
    """422 `unknown_parameter` for each query parameter the matched route does not declare."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute) or not request.url.query:
        return
    known = known_parameters(route)
    if known is None:
        return
    unknown = sorted({name for name in request.query_params if name not in known})
    if not unknown:
        return
    accepted = ", ".join(sorted(known)) or "none"
    raise Unprocessable(
        f"unknown query parameter{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)}",
        errors=[
            {
                "field": f"query.{name}",
                "code": "unknown_parameter",
                "message": f"this route takes no parameter {name!r}; it accepts: {accepted}",
            }
            for name in unknown
        ],
    )
