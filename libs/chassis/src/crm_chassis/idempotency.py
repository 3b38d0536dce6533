"""`Idempotency-Key` on POST: a retried create returns the first answer instead of a second record.

Keys live in the service's own schema, scoped by caller. Same key and same request → the stored
status, headers and body; same key and another request → 422; the first still running → 409.
Server errors (5xx) are not stored, so the client can retry them with the same key.

Four hooks let an app that is not a plain service (the gateway) say which POSTs are handled, who
the caller is, what of the body the fingerprint covers, and what of the answer is stored; their
defaults are what every service gets.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.sql.schema import Table
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from crm_chassis.db import utcnow
from crm_chassis.errors import AppError
from crm_chassis.middleware import send_problem

HEADER = b"idempotency-key"
# An in-flight key older than this is taken to be abandoned by a crashed request and may be retried.
IN_FLIGHT_LEASE = timedelta(minutes=2)
_REPLAYED_HEADERS = {b"content-type", b"location", b"etag"}

RawHeaders = Sequence[tuple[bytes, bytes]]
# Whether a POST carrying a key is handled here at all; one that is not passes through untouched.
Selector = Callable[[Scope], bool]
# The caller the key is scoped to. Raising AppError refuses the request before the store is read.
Caller = Callable[[Scope], Awaitable[str]]
# What stands for the request body in its fingerprint.
BodyFingerprint = Callable[[bytes], bytes]
# The body to store for a response (status, headers, body as sent), to be replayed instead.
StoredBody = Callable[[int, RawHeaders, bytes], bytes]


def every_post(scope: Scope) -> bool:
    """The default selector: every POST with a key is handled."""
    return True


async def principal_of_state(scope: Scope) -> str:
    """The default caller: the principal an earlier middleware put in the request state
    (`InternalAuthMiddleware` in a service), "anonymous" when there is none."""
    principal = scope.get("state", {}).get("principal")
    return principal.subject if principal is not None else "anonymous"


def whole_body(body: bytes) -> bytes:
    """The default body fingerprint: the body itself, hashed with the path and query."""
    return body


def body_as_sent(status: int, headers: RawHeaders, body: bytes) -> bytes:
    """The default stored body: the response body exactly as the client got it."""
    return body


class IdempotencyMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        table: Table,
        ttl: timedelta,
        *,
        handles: Selector = every_post,
        caller: Caller = principal_of_state,
        body_fingerprint: BodyFingerprint = whole_body,
        stored_body: StoredBody = body_as_sent,
    ) -> None:
        """Keys and answers are kept in `table` for `ttl`; the hooks are described with their types."""
        self.app = app
        self.table = table
        self.ttl = ttl
        self.handles = handles
        self.caller = caller
        self.body_fingerprint = body_fingerprint
        self.stored_body = stored_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        key = next((v.decode("latin-1") for k, v in scope["headers"] if k == HEADER), None)
        if key is None or not self.handles(scope):
            await self.app(scope, receive, send)
            return
        try:
            owner = await self.caller(scope)
        except AppError as exc:
            await _refuse(scope, receive, send, exc)
            return
        if not 1 <= len(key) <= 255:
            detail = "Idempotency-Key must be 1 to 255 characters"
            await send_problem(send, 422, "invalid_idempotency_key", detail, errors=_header_error("invalid", detail))
            return

        body = await read_body(receive)
        if body is None:
            return
        digest = hashlib.sha256()
        digest.update(f"{scope['path']}?{scope.get('query_string', b'').decode('latin-1')}\n".encode())
        digest.update(self.body_fingerprint(body))
        fingerprint = digest.hexdigest()

        sessionmaker: async_sessionmaker[AsyncSession] = scope["app"].state.sessionmaker
        claim = await self._claim(sessionmaker, owner, key, fingerprint)
        if claim is not None:
            await claim(send)
            return

        captured: dict[str, Any] = {"status": 500, "headers": [], "body": bytearray()}
        delivered = False

        async def replay_receive() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": bytes(body), "more_body": False}
            return await receive()

        settled = False

        async def capture(message: Message) -> None:
            nonlocal settled
            if message["type"] == "http.response.start":
                captured["status"] = message["status"]
                captured["headers"] = message.get("headers", [])
            elif message["type"] == "http.response.body":
                captured["body"] += message.get("body", b"")
                if not message.get("more_body", False):
                    # Stored before the client sees the answer end: a retry sent the moment it
                    # arrives must find the answer, not a request still in flight.
                    settled = True
                    await self._settle(sessionmaker, owner, key, captured)
            await send(message)

        try:
            await self.app(scope, replay_receive, capture)
        finally:
            if not settled:
                await self._settle(sessionmaker, owner, key, captured)

    async def _claim(
        self, sessionmaker: async_sessionmaker[AsyncSession], owner: str, key: str, fingerprint: str
    ) -> Any:
        """Take the key for this request (None), or return a coroutine that answers from the store."""
        t = self.table
        now = utcnow()
        for _ in range(2):
            async with sessionmaker() as session:
                row = (
                    (await session.execute(select(t).where(t.c.principal == owner, t.c.key == key))).mappings().first()
                )
                stale = row is not None and (
                    row["expires_at"] <= now
                    or (row["state"] == "in_flight" and row["created_at"] + IN_FLIGHT_LEASE <= now)
                )
                if row is None or stale:
                    try:
                        if stale:
                            await session.execute(delete(t).where(t.c.principal == owner, t.c.key == key))
                        await session.execute(
                            insert(t).values(
                                principal=owner,
                                key=key,
                                fingerprint=fingerprint,
                                state="in_flight",
                                created_at=now,
                                expires_at=now + self.ttl,
                            )
                        )
                        await session.commit()
                        return None
                    except IntegrityError:
                        await session.rollback()
                        continue  # another request took it first: read what it stored
                if row["fingerprint"] != fingerprint:
                    return _problem(
                        422,
                        "idempotency_key_reused",
                        "this Idempotency-Key was used for a different request; use a new key",
                    )
                if row["state"] == "in_flight":
                    return _problem(
                        409, "idempotency_in_flight", "a request with this Idempotency-Key is still running"
                    )
                return _replay(row["status"], row["headers"], row["body"])
        return _problem(409, "idempotency_in_flight", "a request with this Idempotency-Key is still running")

    async def _settle(
        self, sessionmaker: async_sessionmaker[AsyncSession], owner: str, key: str, captured: dict[str, Any]
    ) -> None:
        t = self.table
        where = (t.c.principal == owner, t.c.key == key)
        async with sessionmaker.begin() as session:
            if captured["status"] >= 500 or captured["status"] in (409, 429):
                await session.execute(delete(t).where(*where))
                return
            headers = {
                k.decode("latin-1"): v.decode("latin-1")
                for k, v in captured["headers"]
                if k.lower() in _REPLAYED_HEADERS
            }
            body = self.stored_body(captured["status"], captured["headers"], bytes(captured["body"]))
            await session.execute(
                update(t).where(*where).values(state="done", status=captured["status"], headers=headers, body=body)
            )


async def read_body(receive: Receive) -> bytes | None:
    """The whole request body from an ASGI `receive`; None if the client disconnected first."""
    body = bytearray()
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        body += message.get("body", b"")
        if not message.get("more_body"):
            return bytes(body)


async def _refuse(scope: Scope, receive: Receive, send: Send, exc: AppError) -> None:
    """Answer as the route would have (401, 403, 429...), through the app's own error handler."""
    handler: Callable[[Request, Exception], Awaitable[Response]] | None = scope["app"].exception_handlers.get(AppError)
    if handler is None:
        await send_problem(send, exc.status, exc.code, exc.detail, exc.headers)
        return
    response = await handler(Request(scope, receive), exc)
    await response(scope, receive, send)


def _problem(status: int, code: str, detail: str) -> Any:
    # a 422 says which input was wrong, as every 422 does: here the header
    errors = _header_error(code, detail) if status == 422 else None

    async def answer(send: Send) -> None:
        await send_problem(send, status, code, detail, errors=errors)

    return answer


def _header_error(code: str, message: str) -> list[dict[str, Any]]:
    return [{"field": "header.idempotency-key", "code": code, "message": message}]


def _replay(status: int, headers: dict[str, str], body: bytes) -> Any:
    async def answer(send: Send) -> None:
        raw = [(k.encode(), v.encode()) for k, v in headers.items()]
        raw += [(b"content-length", str(len(body)).encode()), (b"idempotent-replayed", b"true")]
        await send({"type": "http.response.start", "status": status, "headers": raw})
        await send({"type": "http.response.body", "body": body})

    return answer
