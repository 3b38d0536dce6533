"""Helpers of the webhook tests: a fake clock, a fake DNS, a recording receiver, a fake event feed,
and a Standard Webhooks verifier written from the specification, apart from the gateway's code."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from crm_chassis.identity import verify_internal_token
from crm_gateway.webhooks.targets import system_resolver

PUBLIC_ADDRESS = "93.184.216.34"
# Names the fake DNS answers itself; anything else (localhost) goes to the system resolver.
FAKE_DNS = {
    "partner.example": [PUBLIC_ADDRESS],
    "other.example": ["203.0.114.9"],
    "sneaky.example": [PUBLIC_ADDRESS, "10.1.2.3"],  # one private answer among public ones
}


async def fake_resolver(host: str, port: int) -> list[str]:
    if host in FAKE_DNS:
        return FAKE_DNS[host]
    return await system_resolver(host, port)


class FakeClock:
    def __init__(self, now: datetime | None = None) -> None:
        self.now = now or datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance_to(self, moment: datetime) -> None:
        self.now = max(self.now, moment)

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class Receiver:
    """Answers webhook POSTs with `status` (a number or a function of the request) and keeps them."""

    status: int | Callable[[httpx.Request], int] = 204
    requests: list[httpx.Request] = field(default_factory=list)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if isinstance(self.status, int):
            return httpx.Response(self.status)
        return httpx.Response(self.status(request))

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def for_host(self, host: str) -> list[httpx.Request]:
        return [r for r in self.requests if r.headers["host"] == host]


def verify_standard_webhook(secret: str, headers: httpx.Headers, body: bytes, *, now: int, tolerance: int = 300) -> Any:
    """Verify as a receiver would (standardwebhooks.com): the payload, or AssertionError."""
    assert secret.startswith("whsec_")
    key = base64.b64decode(secret[len("whsec_") :])
    message_id, timestamp = headers["webhook-id"], headers["webhook-timestamp"]
    assert abs(now - int(timestamp)) <= tolerance, "timestamp outside the tolerance"
    signed = message_id.encode() + b"." + timestamp.encode() + b"." + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest())
    offered = [s.split(",", 1)[1].encode() for s in headers["webhook-signature"].split() if s.startswith("v1,")]
    assert any(hmac.compare_digest(expected, sig) for sig in offered), "no valid v1 signature"
    return json.loads(body)


def event(seq: int, type_: str, *, occurred_at: datetime | None = None, **data: Any) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "seq": seq,
        "type": type_,
        "occurred_at": (occurred_at or datetime.now(UTC)).isoformat(),
        "aggregate_id": str(uuid.uuid4()),
        "version": 1,
        "data": data,
    }


def feed_transport(events: list[dict[str, Any]], secret: str) -> httpx.MockTransport:
    """A service's `/internal/events` feed over `events` (appended to while it runs)."""

    async def handle(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/internal/events"
        principal = verify_internal_token(request.headers["x-internal-token"], secret)
        assert principal.kind == "service"
        after = int(request.url.params["after"])
        items = [e for e in events if e["seq"] > after][: int(request.url.params["limit"])]
        if not items:
            await asyncio.sleep(0.05)  # a short long-poll, so that a running follower does not spin
        return httpx.Response(200, json={"items": items, "last_seq": items[-1]["seq"] if items else after})

    return httpx.MockTransport(handle)
