"""`/api/v1/<path>` → the owning service at `/<path>`, streamed both ways."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import AsyncIterator, Iterable, Mapping

import anyio
import httpx
from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.routing import APIRoute
from starlette.background import BackgroundTask
from starlette.requests import ClientDisconnect
from starlette.responses import StreamingResponse
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from crm_chassis.context import current_request_id
from crm_chassis.errors import NotFound
from crm_chassis.query import accepts_any_query
from crm_gateway.auth.principals import authorise
from crm_gateway.config import PUBLIC_PREFIX
from crm_gateway.proxy import headers as proxy_headers
from crm_gateway.proxy.errors import upstream_failure
from crm_gateway.proxy.routing import resolve
from crm_gateway.proxy.signing import InternalTokens
from crm_gateway.proxy.upstream import UpstreamClient, UpstreamMetrics

logger = logging.getLogger("crm.gateway.proxy")
# Safe to send twice: the body is read up front so that a retry can resend it. A POST is safe too
# when it carries an Idempotency-Key: the service answers a second copy from its key store.
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
# Failures before any byte of an answer: the connection was refused, or closed under the request
# (a kept-alive one the service had just closed), so the service cannot have answered.
_RETRYABLE = (httpx.ConnectError, httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)
CLIENT_CLOSED_REQUEST = 499  # logged only: the connection is gone
# Answers up to this size are read whole before they are sent on; larger or unsized ones stream.
BUFFERED_BODY_BYTES = 256 * 1024

router = APIRouter()
_PREFIX = PUBLIC_PREFIX + "/"


@router.api_route(
    PUBLIC_PREFIX + "/{path:path}",
    methods=["GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE"],
    include_in_schema=False,
)
@accepts_any_query
async def forward(request: Request) -> Response:
    # No dependencies declared: resolving them costs more than the calls themselves on this path.
    path: str = request.path_params["path"]
    principal = await authorise(request)
    upstream = resolve(path)
    if upstream is None:
        raise NotFound(f"no resource at {request.url.path}", code="route_not_found")
    client: UpstreamClient = request.app.state.upstreams[upstream]
    tokens: InternalTokens = request.app.state.internal_tokens
    token = tokens.token_for(principal)
    headers = proxy_headers.request_headers(
        request, internal_token=token, request_id=current_request_id(), client_address=request.state.client_address
    )
    target = proxy_headers.service_path(request, path), request.scope.get("query_string", b"")
    metrics: UpstreamMetrics = request.app.state.upstream_metrics
    started = time.perf_counter()
    try:
        upstream_response = await _send(client, request.app.state.fresh_upstreams[upstream], request, target, headers)
    except ClientDisconnect:
        # the caller left while its request was being read: no one to answer, nothing failed here
        logger.info("client disconnected before its request was read", extra={"upstream": upstream})
        return Response(status_code=CLIENT_CLOSED_REQUEST)
    except httpx.TransportError as exc:
        metrics.responses.labels(upstream, type(exc).__name__).inc()
        logger.warning("upstream call failed", extra={"upstream": upstream, "error": repr(exc)})
        raise upstream_failure(upstream, exc) from exc
    metrics.latency.labels(upstream).observe(time.perf_counter() - started)
    metrics.responses.labels(upstream, str(upstream_response.status_code)).inc()
    # A response built in memory (a mock transport) was read and decoded on creation.
    decoded = upstream_response.is_stream_consumed
    raw_headers = proxy_headers.response_headers(upstream_response.headers.raw, str(client.base_url), decoded=decoded)
    if not decoded and _small(upstream_response):
        # Read at once and sent in one piece: no streaming task per response, and a service that
        # fails halfway through its body still gets a clean 502 instead of a cut-off answer.
        try:
            body = b"".join([chunk async for chunk in upstream_response.aiter_raw()])
        except httpx.TransportError as exc:
            metrics.responses.labels(upstream, type(exc).__name__).inc()
            raise upstream_failure(upstream, exc) from exc
        finally:
            await upstream_response.aclose()
        buffered = Response(content=body, status_code=upstream_response.status_code)
        buffered.raw_headers = raw_headers
        return buffered
    response = StreamingResponse(
        _body(upstream_response, decoded),
        status_code=upstream_response.status_code,
        background=BackgroundTask(upstream_response.aclose),
    )
    # Set as a list, not a dict, so that repeated headers (Set-Cookie, Link) all survive.
    response.raw_headers = raw_headers
    return response


def _small(response: httpx.Response) -> bool:
    """A body of a declared length small enough to hold in memory (single reads, not exports)."""
    length = response.headers.get("content-length", "")
    return length.isdigit() and int(length) <= BUFFERED_BODY_BYTES


def replayable(method: str, headers: Mapping[str, str]) -> bool:
    """Whether a call may be sent again after its connection failed before any answer."""
    return method in IDEMPOTENT or (method == "POST" and "idempotency-key" in headers)


async def _send(
    client: UpstreamClient, fresh: UpstreamClient, request: Request, target: tuple[str, bytes], headers: httpx.Headers
) -> httpx.Response:
    method = request.method
    if not replayable(method, request.headers):
        has_body = "content-length" in request.headers or "transfer-encoding" in request.headers
        return await client.forward(method, *target, headers, request.stream() if has_body else b"")
    headers.pop("content-length", None)  # httpx sets it from the bytes it sends
    body = await request.body()
    try:
        return await client.forward(method, *target, headers, body)
    except _RETRYABLE as exc:
        # Once, on a connection of its own: another pooled one may be as stale as the first.
        logger.info("retrying upstream call on a fresh connection", extra={"error": repr(exc), "method": method})
        return await fresh.forward(method, *target, headers, body)


async def _body(upstream_response: httpx.Response, decoded: bool) -> AsyncIterator[bytes]:
    """The upstream's bytes exactly as sent (still compressed), so its Content-* headers stay true."""
    try:
        if decoded:
            yield upstream_response.content
            return
        async for chunk in upstream_response.aiter_raw():
            yield chunk
    finally:
        # Runs on client disconnect too, when the surrounding task is being cancelled.
        with anyio.CancelScope(shield=True):
            await upstream_response.aclose()


class RouteFirst:
    """Proxied requests straight to `forward`, before the router walks its list of routes.

    The proxy's route is the last of about sixty (it catches every /api/v1 path the gateway does
    not answer itself), and matching it, then FastAPI's request handling around an endpoint that
    declares nothing, cost the gateway about a tenth of a proxied read. A request goes this way
    only when the router would have chosen the proxy: a path under /api/v1 that none of the
    gateway's own routes matches, whatever their methods (the router settles those cases as
    before), sent with a method the proxy takes. Everything else goes through the router. The
    scope is left as the router leaves it (the proxy's route, its `path` parameter), and errors go
    to the application's exception handlers outside, as they do from the route.
    """

    def __init__(self, app: ASGIApp, own_routes: Iterable[BaseRoute], proxy_route: APIRoute, owner: object) -> None:
        self.app = app
        self.route = proxy_route
        self.methods = frozenset(proxy_route.methods or ())
        self.owner = owner
        # The gateway's own route patterns by the first path segment below /api/v1 they fix, and
        # those that fix none (a parameter inside or before it), which every path is checked against.
        self.by_segment: dict[str, list[re.Pattern[str]]] = {}
        self.anywhere: list[re.Pattern[str]] = []
        for route in own_routes:
            pattern: re.Pattern[str] | None = getattr(route, "path_regex", None)
            path: str | None = getattr(route, "path", None)
            if pattern is None or path is None:
                continue
            literal = path.split("{", 1)[0]
            if literal.startswith(_PREFIX):
                rest = literal[len(_PREFIX) :]
                if "/" in rest or "{" not in path:
                    self.by_segment.setdefault(rest.split("/", 1)[0], []).append(pattern)
                    continue
                self.anywhere.append(pattern)
            elif _PREFIX.startswith(literal):
                self.anywhere.append(pattern)

    def takes(self, scope: Scope) -> bool:
        """Whether the router would hand this request to the proxy's route."""
        path: str = scope["path"]
        if not path.startswith(_PREFIX) or scope.get("root_path") or scope["method"] not in self.methods:
            return False
        segment = path[len(_PREFIX) :].split("/", 1)[0]
        candidates = self.by_segment.get(segment, ())
        return not any(pattern.match(path) for patterns in (candidates, self.anywhere) for pattern in patterns)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.takes(scope):
            await self.app(scope, receive, send)
            return
        scope["route"] = self.route
        scope["endpoint"] = self.route.endpoint
        scope["path_params"] = {**scope.get("path_params", {}), "path": scope["path"][len(_PREFIX) :]}
        scope.setdefault("router", self.owner)
        response = await forward(Request(scope, receive, send))
        await response(scope, receive, send)


def route_first(app: FastAPI, own_routers: Iterable[APIRouter]) -> None:
    """Put `RouteFirst` in front of `app`'s routes (inside its middleware and exception handlers).

    `own_routers` are the gateway's routers other than the proxy's; the routes mounted on the app
    itself (static assets) count as its own too.
    """
    own: list[BaseRoute] = [route for own_router in own_routers for route in own_router.routes]
    own += [route for route in app.router.routes if hasattr(route, "path_regex")]
    (proxy_route,) = [route for route in router.routes if isinstance(route, APIRoute)]
    app.router.middleware_stack = RouteFirst(app.router.middleware_stack, own, proxy_route, app.router)
