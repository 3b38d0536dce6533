"""Pure ASGI middleware: request ids and access logs, body limits, internal authentication.

Pure ASGI (not BaseHTTPMiddleware) so that bodies stream and context variables reach the app.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import Iterable
from typing import Any

from fastapi import HTTPException
from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from crm_chassis import tracing
from crm_chassis.context import current_public_path, forwarded_prefix_var, public_path_var, request_id_var
from crm_chassis.db import DATABASE_RETRY_AFTER_SECONDS, is_database_unavailable, lost_a_race
from crm_chassis.errors import PROBLEM_JSON, problem_body
from crm_chassis.identity import INTERNAL_HEADER, VerifiedTokens

logger = logging.getLogger("crm.access")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_PREFIX = re.compile(r"^(/[A-Za-z0-9._~-]+){1,8}$")


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return str(value.decode("latin-1"))
    return None


def request_path(scope: Scope) -> str:
    """The path as the client sent it, percent-encoding kept (`/customers/a%2Fb`)."""
    raw = scope.get("raw_path")
    if isinstance(raw, bytes) and raw:
        return raw.decode("latin-1").split("?", 1)[0]
    return str(scope.get("path", ""))


# A transaction the database rolled back to settle a deadlock: the client's request was fine.
BUSY = (503, "database_busy", "the request collided with another one changing the same data; retry it")


async def send_problem(
    send: Send,
    status: int,
    code: str,
    detail: str,
    headers: dict[str, str] | None = None,
    *,
    errors: list[dict[str, Any]] | None = None,
    scope: Scope | None = None,
) -> None:
    # the path as the client called it (through the gateway: with its prefix), else as this app saw it
    instance = current_public_path() or (request_path(scope) if scope is not None else None)
    # serialised as the route errors are (JSONResponse's compact form), so that no client sees two styles
    problem = problem_body(status, code, detail, instance=instance, errors=errors)
    body = json.dumps(problem, ensure_ascii=False, separators=(",", ":")).encode()
    raw_headers = [(b"content-type", PROBLEM_JSON.encode()), (b"content-length", str(len(body)).encode())]
    raw_headers += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": body})


class HttpMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "http_requests_total", "HTTP requests", ["method", "route", "status"], registry=registry
        )
        self.latency = Histogram(
            "http_request_duration_seconds",
            "HTTP request latency",
            ["method", "route"],
            registry=registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )


class RequestContextMiddleware:
    """Accepts or makes `X-Request-ID` and the W3C trace context (`traceparent`), echoes the id,
    logs one JSON line per request, records metrics, and exports the request's span when
    OpenTelemetry export is on (`spans`, crm_chassis.tracing).

    It is also the last line of defence: an error nothing else handled (raised in the app or in an
    inner middleware) becomes a problem+json body carrying the request id, 503 `database_unavailable`
    with `Retry-After` when the database cannot be reached, 500 `internal_error` otherwise.
    """

    def __init__(
        self,
        app: ASGIApp,
        metrics: HttpMetrics | None = None,
        spans: tracing.SpanExport | None = None,
        *,
        trust_forwarded_prefix: bool = False,
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.spans = spans
        # Services sit behind the gateway, which says under which prefix it serves them; the
        # gateway itself is called by clients, whose word on that is not taken.
        self.trust_forwarded_prefix = trust_forwarded_prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = _header(scope, b"x-request-id")
        request_id = incoming if incoming and _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        token = request_id_var.set(request_id)
        prefix = _header(scope, b"x-forwarded-prefix") if self.trust_forwarded_prefix else None
        prefix = prefix if prefix and _PREFIX.match(prefix) else ""
        prefix_token = forwarded_prefix_var.set(prefix)
        path_token = public_path_var.set(prefix + request_path(scope))
        trace = tracing.start(_header(scope, b"traceparent"))
        trace_token = tracing.trace_var.set(trace)
        started_ns = time.time_ns()
        started = time.perf_counter()
        status = 500
        response_started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"x-request-id"]
                headers.append((b"x-request-id", request_id.encode()))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception as exc:
            if response_started:
                raise  # too late for an error body: the server closes the connection
            if lost_a_race(exc):
                logger.warning("transaction lost a race", extra={"path": scope["path"], "error": str(exc)[:500]})
                await send_problem(send_with_id, *BUSY, headers={"Retry-After": "1"}, scope=scope)
            elif is_database_unavailable(exc):
                logger.error("database unavailable", extra={"path": scope["path"], "error": str(exc)[:500]})
                await send_problem(
                    send_with_id,
                    503,
                    "database_unavailable",
                    "the database is busy or unreachable; retry shortly",
                    headers={"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)},
                    scope=scope,
                )
            else:
                logger.exception("unhandled error", extra={"path": scope["path"]})
                await send_problem(send_with_id, 500, "internal_error", "an unexpected error occurred", scope=scope)
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            if self.metrics is not None:
                self.metrics.requests.labels(scope["method"], template, str(status)).inc()
                self.metrics.latency.labels(scope["method"], template).observe(elapsed)
            logger.info(
                "request",
                extra={
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 2),
                },
            )
            if self.spans is not None:
                attributes = {"http.request.method": scope["method"], "url.path": scope["path"], "http.route": template}
                name = f"{scope['method']} {template}"
                self.spans.record(trace, name, started_ns, started_ns + int(elapsed * 1e9), status, attributes)
            tracing.trace_var.reset(trace_token)
            request_id_var.reset(token)
            forwarded_prefix_var.reset(prefix_token)
            public_path_var.reset(path_token)


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than {limit} bytes")


class BodyLimitMiddleware:
    """413 for bodies over the limit, judged by Content-Length and by counting a streamed body.

    `overrides` maps path prefixes to their own limit (CSV imports are larger than JSON bodies).
    """

    def __init__(self, app: ASGIApp, limit: int, overrides: dict[str, int] | None = None) -> None:
        self.app = app
        self.limit = limit
        self.overrides = sorted((overrides or {}).items(), key=lambda kv: -len(kv[0]))

    def _limit_for(self, path: str) -> int:
        for prefix, limit in self.overrides:
            if path.startswith(prefix):
                return limit
        return self.limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self._limit_for(scope["path"])
        declared = _header(scope, b"content-length")
        if declared is not None:
            if not declared.isdigit():
                await send_problem(send, 400, "bad_request", "Content-Length is not a number")
                return
            if int(declared) > limit:
                await send_problem(send, 413, "payload_too_large", f"the request body is larger than {limit} bytes")
                return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        await self.app(scope, counting_receive, send)


class InternalAuthMiddleware:
    """Every request must carry a valid internal identity token, except the public paths."""

    def __init__(self, app: ASGIApp, secret: str, public_paths: Iterable[str]) -> None:
        self.app = app
        self.tokens = VerifiedTokens(secret)
        self.public_paths = frozenset(public_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.public_paths:
            await self.app(scope, receive, send)
            return
        token = _header(scope, INTERNAL_HEADER.lower().encode())
        if not token:
            await send_problem(
                send,
                401,
                "missing_internal_token",
                "this service only answers calls that pass through the gateway",
            )
            return
        try:
            principal = self.tokens.principal(token)
        except Exception as exc:  # Unauthorized: forged, expired, malformed
            await send_problem(send, 401, "invalid_internal_token", str(exc))
            return
        state: dict[str, Any] = scope.setdefault("state", {})
        state["principal"] = principal
        await self.app(scope, receive, send)
