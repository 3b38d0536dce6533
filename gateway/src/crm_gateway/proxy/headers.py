"""Which headers cross the gateway, in each direction."""

from __future__ import annotations

from urllib.parse import quote

import httpx
from starlette.requests import Request

from crm_gateway.config import PUBLIC_PREFIX

HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
# Credentials stay at the door: services learn who is calling from the signed internal token only,
# and a client must never be able to supply that token (or the tracing id) itself.
_NOT_FORWARDED = HOP_BY_HOP | {
    "host",
    "authorization",
    "cookie",
    "x-api-key",
    "x-internal-token",
    "x-request-id",
    "traceparent",  # replaced by the gateway's own span (crm_chassis.tracing)
    "x-forwarded-for",
    "x-forwarded-proto",
    "x-forwarded-host",
    "forwarded",
    "x-forwarded-prefix",
}
# The ASGI server sets its own; the upstream's would be sent twice.
_NOT_RETURNED = HOP_BY_HOP | {"date", "server"}


def _connection_tokens(value: str | None) -> set[str]:
    return {token.strip().lower() for token in (value or "").split(",") if token.strip()}


def request_headers(
    request: Request, *, internal_token: str, request_id: str | None, client_address: str | None = None
) -> httpx.Headers:
    """The client's headers as the upstream should see them; repeated headers stay repeated."""
    drop = _NOT_FORWARDED | _connection_tokens(request.headers.get("connection"))
    kept = [(key, value) for key, value in request.headers.raw if key.decode("latin-1").lower() not in drop]
    headers = httpx.Headers(kept)
    # Without this httpx would ask for gzip on the client's behalf, and the raw bytes streamed
    # back would be compressed for a client that never said it could read them.
    headers.setdefault("accept-encoding", "identity")
    headers["x-internal-token"] = internal_token
    if request_id:
        headers["x-request-id"] = request_id
    # The address as the gateway judged it (trusted proxies considered), never the client's own claim.
    address = client_address or (request.client.host if request.client is not None else None)
    if address:
        headers["x-forwarded-for"] = address
    headers["x-forwarded-proto"] = request.url.scheme
    # Where the client reached the service: its problems' `instance` and its links start here.
    headers["x-forwarded-prefix"] = PUBLIC_PREFIX
    return headers


def response_headers(
    raw: list[tuple[bytes, bytes]], upstream_base: str, *, decoded: bool = False
) -> list[tuple[bytes, bytes]]:
    """The upstream's headers minus hop-by-hop ones, with locations moved under the public prefix.

    `decoded` says the body is no longer the bytes the upstream sent, so its encoding and
    length headers would be false.
    """
    drop = _NOT_RETURNED | ({"content-encoding", "content-length"} if decoded else set())
    out = []
    for key, value in raw:
        name = key.decode("latin-1").lower()
        if name in drop:
            continue
        if name in {"location", "content-location"}:
            value = public_location(value.decode("latin-1"), upstream_base).encode("latin-1")
        out.append((name.encode("latin-1"), value))
    return out


def public_location(location: str, upstream_base: str) -> str:
    """`/customers/42` (or the upstream's absolute URL for it) → `/api/v1/customers/42`."""
    base = upstream_base.rstrip("/")
    if location.startswith(base + "/"):
        location = location[len(base) :]
    if location.startswith("/") and not location.startswith("//") and not location.startswith(PUBLIC_PREFIX + "/"):
        return PUBLIC_PREFIX + location
    return location


def service_path(request: Request, path: str) -> str:
    """The path to ask the upstream for, keeping the client's percent-encoding (`%2F` in an id)."""
    raw = request.scope.get("raw_path")
    if isinstance(raw, bytes):
        raw_path = raw.decode("latin-1")
        if raw_path.startswith(PUBLIC_PREFIX + "/"):
            return raw_path[len(PUBLIC_PREFIX) :]
    return "/" + quote(path)
