"""`/api/v1/<path>` → the owning service at `/<path>`, streamed both ways."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator

import anyio
import httpx
from fastapi import APIRouter, Request, Response
from starlette.background import BackgroundTask
from starlette.requests import ClientDisconnect
from starlette.responses import StreamingResponse

from crm_chassis.context import current_request_id
from crm_chassis.errors import NotFound
from crm_chassis.identity import sign_internal_token
from crm_gateway import headers as proxy_headers
from crm_gateway.config import SettingsDep
from crm_gateway.errors import upstream_failure
from crm_gateway.principals import AuthorisedDep
from crm_gateway.routing import PUBLIC_PREFIX, resolve
from crm_gateway.upstream import UpstreamMetrics

logger = logging.getLogger("crm.gateway.proxy")
# Safe to send twice: the body is read up front so that a retry can resend it.
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
_RETRYABLE = (httpx.ConnectError, httpx.RemoteProtocolError)
CLIENT_CLOSED_REQUEST = 499  # logged only: the connection is gone

router = APIRouter()


@router.api_route(
    PUBLIC_PREFIX + "/{path:path}",
    methods=["GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE"],
    include_in_schema=False,
)
async def forward(path: str, request: Request, principal: AuthorisedDep, settings: SettingsDep) -> Response:
    upstream = resolve(path)
    if upstream is None:
        raise NotFound(f"no resource at {request.url.path}", code="route_not_found")
    client: httpx.AsyncClient = request.app.state.upstreams[upstream]
    token = sign_internal_token(
        principal, settings.internal_secret.get_secret_value(), settings.internal_token_ttl_seconds
    )
    headers = proxy_headers.request_headers(
        request, internal_token=token, request_id=current_request_id(), client_address=request.state.client_address
    )
    query = request.url.query.encode("latin-1")
    url = httpx.URL(path=proxy_headers.service_path(request, path), query=query or None)
    metrics: UpstreamMetrics = request.app.state.upstream_metrics
    started = time.perf_counter()
    try:
        upstream_response = await _send(client, request, url, headers)
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
    response = StreamingResponse(
        _body(upstream_response, decoded),
        status_code=upstream_response.status_code,
        background=BackgroundTask(upstream_response.aclose),
    )
    # Set as a list, not a dict, so that repeated headers (Set-Cookie, Link) all survive.
    response.raw_headers = proxy_headers.response_headers(
        upstream_response.headers.raw, str(client.base_url), decoded=decoded
    )
    return response


async def _send(client: httpx.AsyncClient, request: Request, url: httpx.URL, headers: httpx.Headers) -> httpx.Response:
    method = request.method
    if method not in IDEMPOTENT:
        has_body = "content-length" in request.headers or "transfer-encoding" in request.headers
        content = request.stream() if has_body else b""
        return await client.send(client.build_request(method, url, headers=headers, content=content), stream=True)
    headers.pop("content-length", None)  # httpx sets it from the bytes it sends
    body = await request.body()
    try:
        return await client.send(client.build_request(method, url, headers=headers, content=body), stream=True)
    except _RETRYABLE as exc:
        # A pooled keep-alive connection the upstream had already closed looks like this; once is enough.
        logger.info("retrying idempotent upstream call", extra={"error": repr(exc)})
        return await client.send(client.build_request(method, url, headers=headers, content=body), stream=True)


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
