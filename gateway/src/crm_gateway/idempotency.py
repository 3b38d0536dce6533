"""`Idempotency-Key` on the POSTs the gateway answers itself: users, API keys, webhooks and their actions.

The chassis middleware does the work with the chassis table (`gateway.idempotency_key`, made with
the other infrastructure tables by the first migration), exactly as in every service: same key and
same request → the stored answer with `Idempotent-Replayed: true`; same key, other request → 422
`idempotency_key_reused`; the first still running → 409 `idempotency_in_flight`. Around it the
gateway settles three things the services do not have to:

- Which requests. Only a POST that a gateway route answers. A proxied POST passes straight through
  with its header, and the owning service keeps that key: one store per request, never two. The
  sign-in routes are left out as well, since their answers are credentials, not records.
- Who. Keys are scoped per caller, and the gateway learns the caller in a route dependency, which
  runs after any middleware. So the caller is authorised here first (the route then reuses the
  answer), and a request that fails authorisation is answered without touching the store: nobody
  can reach a stored answer but its caller, while allowed to call the route.
- What is kept. The store holds nothing a database reader could use. The chassis fingerprints the
  body it is handed with plain SHA-256, and a body may hold a password (`POST /users`), so it is
  handed an HMAC of the body under a server key instead; the route still receives the real body. A
  response that shows a secret once (`key` of an API key, `secret` of a webhook) is stored with
  that field set to null: the first answer carries the secret, a replay everything but the secret.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import Table
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from crm_chassis.errors import AppError
from crm_chassis.idempotency import HEADER, IdempotencyMiddleware, read_body
from crm_gateway import principals, routing
from crm_gateway.routing import PUBLIC_PREFIX

# Response fields that carry a credential shown once; never written to the store.
SHOWN_ONCE = frozenset({"key", "secret"})
_SIGN_IN = PUBLIC_PREFIX + "/auth/"
# Per-request hand-over between the two layers around the chassis middleware (scope["state"]).
_REQUEST_BODY = "idempotency_request_body"
_CLEAR_RESPONSE = "idempotency_clear_response"


def fingerprint_key(secret: str) -> bytes:
    """The HMAC key of request fingerprints, derived from a server secret (the JWT signing key)."""
    return hmac.new(secret.encode(), b"crm-gateway idempotency fingerprint", hashlib.sha256).digest()


class GatewayIdempotencyMiddleware:
    def __init__(self, app: ASGIApp, *, table: Table, ttl: timedelta, key: bytes) -> None:
        self.app = app
        self.key = key
        self.store = IdempotencyMiddleware(_WithRealBody(app), table=table, ttl=ttl)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or not _has_key(scope) or not answered_here(scope):
            await self.app(scope, receive, send)
            return
        try:
            await principals.authorise(Request(scope))
        except AppError as exc:
            await _refuse(scope, receive, send, exc)
            return
        body = await read_body(receive)
        if body is None:
            return
        state = scope.setdefault("state", {})
        state[_REQUEST_BODY] = body
        keyed = hmac.new(self.key, body, hashlib.sha256).hexdigest().encode()
        handed = False

        async def keyed_receive() -> Message:
            nonlocal handed
            if not handed:
                handed = True
                return {"type": "http.request", "body": keyed, "more_body": False}
            return await receive()

        async def clear_send(message: Message) -> None:
            clear: bytes | None = state.get(_CLEAR_RESPONSE)
            if clear is not None and message["type"] == "http.response.start":
                message["headers"] = _with_length(message.get("headers", []), len(clear))
            elif clear is not None and message["type"] == "http.response.body":
                message = {**message, "body": clear}
            await send(message)

        await self.store(scope, keyed_receive, clear_send)


def answered_here(scope: Scope) -> bool:
    """Whether the gateway answers this request itself: not a proxied path, not a sign-in route.

    Decided by the proxy's own routing table: the proxy forwards exactly the paths it resolves. A
    gateway route under a proxied prefix would get no Idempotency-Key handling here (it would have
    to be listed), which is the safe way to be wrong: never a second store for a service's key.
    """
    path: str = scope["path"]
    if not path.startswith(PUBLIC_PREFIX + "/") or path.startswith(_SIGN_IN):
        return False
    return routing.resolve(path.removeprefix(PUBLIC_PREFIX)) is None


def _has_key(scope: Scope) -> bool:
    return any(name == HEADER for name, _ in scope["headers"])


async def _refuse(scope: Scope, receive: Receive, send: Send, exc: AppError) -> None:
    """Answer as the route would have (401, 403, 429...), through the app's own error handler."""
    handler: Callable[[Request, Exception], Awaitable[Response]] = scope["app"].exception_handlers[AppError]
    response = await handler(Request(scope, receive), exc)
    await response(scope, receive, send)


def _with_length(headers: Any, length: int) -> list[tuple[bytes, bytes]]:
    kept = [(name, value) for name, value in headers if name.lower() != b"content-length"]
    return [*kept, (b"content-length", str(length).encode())]


class _WithRealBody:
    """Inside the chassis middleware: the route gets the real body, the store a response without secrets."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        state = scope["state"]
        handed = False

        async def real_receive() -> Message:
            nonlocal handed
            if not handed:
                handed = True
                await receive()  # the keyed stand-in the chassis fingerprinted
                return {"type": "http.request", "body": state.pop(_REQUEST_BODY), "more_body": False}
            return await receive()

        start: Message | None = None
        body = bytearray()

        async def redacting_send(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
                return
            if message["type"] != "http.response.body" or start is None:
                await send(message)
                return
            body.extend(message.get("body", b""))
            if message.get("more_body"):
                return
            stored = _without_secrets(start["status"], start.get("headers", []), bytes(body))
            if stored is not None:
                state[_CLEAR_RESPONSE] = bytes(body)
                start["headers"] = _with_length(start.get("headers", []), len(stored))
            await send(start)
            await send({"type": "http.response.body", "body": bytes(body) if stored is None else stored})

        await self.app(scope, real_receive, redacting_send)


def _without_secrets(status: int, headers: Any, body: bytes) -> bytes | None:
    """The body with its shown-once fields nulled, or None when it has none."""
    content_type = next((value for name, value in headers if name.lower() == b"content-type"), b"")
    if not 200 <= status < 300 or not content_type.startswith(b"application/json"):
        return None
    try:
        document = json.loads(body)
    except ValueError:
        return None
    if not isinstance(document, dict) or not any(document.get(field) is not None for field in SHOWN_ONCE):
        return None
    redacted = {name: None if name in SHOWN_ONCE else value for name, value in document.items()}
    return json.dumps(redacted, ensure_ascii=False, separators=(",", ":")).encode()
