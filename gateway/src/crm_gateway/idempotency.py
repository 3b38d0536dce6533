"""`Idempotency-Key` on the POSTs the gateway answers itself: users, API keys, webhooks and their actions.

The chassis middleware does the work with the chassis table (`gateway.idempotency_key`, made with
the other infrastructure tables by the first migration), exactly as in every service: same key and
same request → the stored answer with `Idempotent-Replayed: true`; same key, other request → 422
`idempotency_key_reused`; the first still running → 409 `idempotency_in_flight`. Its hooks settle
three things the services do not have to:

- Which requests. Only a POST that a gateway route answers. A proxied POST passes straight through
  with its header, and the owning service keeps that key: one store per request, never two. The
  sign-in routes are left out as well, since their answers are credentials, not records.
- Who. Keys are scoped per caller, and the gateway learns the caller in a route dependency, which
  runs after any middleware. So the caller is authorised here first (the route then reuses the
  answer), and a request that fails authorisation is answered without touching the store: nobody
  can reach a stored answer but its caller, while allowed to call the route.
- What is kept. The store holds nothing a database reader could use. A plain SHA-256 of the body
  would let a reader test password guesses offline (`POST /users` carries one), so the fingerprint
  covers an HMAC of the body under a server key instead; the route still receives the real body. A
  response that shows a secret once (`key` of an API key, `secret` of a webhook) is stored with
  that field set to null: the first answer carries the secret, a replay everything but the secret.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from datetime import timedelta

from fastapi import FastAPI
from starlette.requests import Request
from starlette.types import Scope

from crm_chassis.idempotency import IdempotencyMiddleware, RawHeaders
from crm_gateway.auth import principals
from crm_gateway.config import PUBLIC_PREFIX, Settings
from crm_gateway.db import infra
from crm_gateway.proxy import routing

# Response fields that carry a credential shown once; never written to the store.
SHOWN_ONCE = frozenset({"key", "secret"})
_SIGN_IN = PUBLIC_PREFIX + "/auth/"


def install(app: FastAPI, settings: Settings) -> None:
    """Add the chassis middleware to `app`, configured for the gateway's own POSTs."""
    app.add_middleware(
        IdempotencyMiddleware,
        table=infra.idempotency,
        ttl=timedelta(hours=settings.idempotency_ttl_hours),
        handles=answered_here,
        caller=authorised_caller,
        body_fingerprint=keyed_body(fingerprint_key(settings.jwt_secret.get_secret_value())),
        stored_body=without_shown_once,
    )


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


async def authorised_caller(scope: Scope) -> str:
    """The caller, if they may call the route; the route's own 401, 403 or 429 otherwise."""
    principal = await principals.authorise(Request(scope))
    return principal.subject


def fingerprint_key(secret: str) -> bytes:
    """The HMAC key of request fingerprints, derived from a server secret (the JWT signing key)."""
    return hmac.new(secret.encode(), b"crm-gateway idempotency fingerprint", hashlib.sha256).digest()


def keyed_body(key: bytes) -> Callable[[bytes], bytes]:
    """What stands for a request body in its fingerprint: its HMAC under `key`."""

    def fingerprint(body: bytes) -> bytes:
        return hmac.new(key, body, hashlib.sha256).hexdigest().encode()

    return fingerprint


def without_shown_once(status: int, headers: RawHeaders, body: bytes) -> bytes:
    """The body to store: the one sent, with its shown-once fields nulled when it has any."""
    content_type = next((value for name, value in headers if name.lower() == b"content-type"), b"")
    if not 200 <= status < 300 or not content_type.startswith(b"application/json"):
        return body
    try:
        document = json.loads(body)
    except ValueError:
        return body
    if not isinstance(document, dict) or not any(document.get(field) is not None for field in SHOWN_ONCE):
        return body
    redacted = {name: None if name in SHOWN_ONCE else value for name, value in document.items()}
    return json.dumps(redacted, ensure_ascii=False, separators=(",", ":")).encode()
