"""Per-request bookkeeping around every route: the client's address, rate-limit headers, the audit entry.

Pure ASGI, outside the routes, so that it sees the final status of every response, errors included.
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from crm_chassis.context import current_request_id
from crm_chassis.db import SAFE_METHODS, utcnow
from crm_chassis.identity import Principal
from crm_gateway.audit.addresses import Network, client_address
from crm_gateway.audit.log import AuditLog
from crm_gateway.config import PUBLIC_PREFIX

NOT_AUDITED = frozenset({PUBLIC_PREFIX + "/openapi.json"})
# Partner reads under these service paths return personal data: audited as such.
PERSONAL_DATA_AREAS = frozenset({"customers"})


def _header(scope: Scope, name: bytes) -> str | None:
    values = [value.decode("latin-1") for key, value in scope.get("headers", ()) if key == name]
    return ", ".join(values) if values else None


class AccessMiddleware:
    def __init__(self, app: ASGIApp, trusted_proxies: Sequence[Network]) -> None:
        self.app = app
        self.trusted = list(trusted_proxies)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        peer = scope["client"][0] if scope.get("client") else None
        state["client_address"] = client_address(peer, _header(scope, b"x-forwarded-for"), self.trusted)
        status = 500

        async def send_with_limits(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                limits: dict[str, str] = state.get("rate_limit_headers") or {}
                present = {key.lower() for key, _ in message.get("headers", [])}
                extra = [
                    (k.lower().encode(), v.encode()) for k, v in limits.items() if k.lower().encode() not in present
                ]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        try:
            await self.app(scope, receive, send_with_limits)
        finally:
            path: str = scope["path"]
            if path.startswith(PUBLIC_PREFIX + "/") and path not in NOT_AUDITED:
                audit: AuditLog | None = getattr(scope["app"].state, "audit", None)
                if audit is not None:
                    audit.record(_entry(scope, state, status))


def _entry(scope: Scope, state: dict[str, object], status: int) -> dict[str, object]:
    principal = state.get("principal")
    who = principal if isinstance(principal, Principal) else None
    path: str = scope["path"]
    area = path.removeprefix(PUBLIC_PREFIX + "/").split("/", 1)[0]
    return {
        "occurred_at": utcnow(),
        "principal_kind": who.kind if who else None,
        "principal_id": who.subject if who else None,
        "principal_name": who.name if who else None,
        "role": who.role if who else None,
        "method": scope["method"],
        "path": path[:2048],
        "status": status,
        "client_address": state.get("client_address"),
        "request_id": current_request_id(),
        "personal_data": bool(
            who and who.kind == "api_key" and scope["method"] in SAFE_METHODS and area in PERSONAL_DATA_AREAS
        ),
    }
