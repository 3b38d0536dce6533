"""The internal token a proxied call carries, signed once per principal and reused for a while.

A token lives `internal_token_ttl_seconds` (60 s by default); the same one is sent for the first
quarter of that, so a busy caller costs one signature every 15 s instead of one per request, and
every token a service receives still has at least three quarters of its life left.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from crm_chassis.identity import Principal, sign_internal_token


class InternalTokens:
    def __init__(
        self, secret: str, ttl_seconds: int, clock: Callable[[], float] = time.monotonic, max_entries: int = 10_000
    ) -> None:
        self.secret = secret
        self.ttl_seconds = ttl_seconds
        self.reuse_seconds = ttl_seconds / 4
        self.clock = clock
        self.max_entries = max_entries
        self._signed: dict[Principal, tuple[float, str]] = {}

    def token_for(self, principal: Principal) -> str:
        now = self.clock()
        entry = self._signed.get(principal)
        if entry is not None and now - entry[0] < self.reuse_seconds:
            return entry[1]
        if len(self._signed) >= self.max_entries:
            self._signed = {p: e for p, e in self._signed.items() if now - e[0] < self.reuse_seconds}
            if len(self._signed) >= self.max_entries:
                self._signed.clear()
        token = sign_internal_token(principal, self.secret, self.ttl_seconds)
        self._signed[principal] = (now, token)
        return token
