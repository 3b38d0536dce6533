"""The internal token a proxied call carries, signed once per principal and reused for a while.

A token lives `internal_token_ttl_seconds` (60 s by default); the same one is sent for the first
quarter of that, so a busy caller costs one signature every 15 s instead of one per request, and
every token a service receives still has at least three quarters of its life left.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from crm_chassis.identity import Principal, sign_internal_token
from crm_chassis.memo import ExpiringMemo


class InternalTokens:
    def __init__(
        self, secret: str, ttl_seconds: int, clock: Callable[[], float] = time.monotonic, max_entries: int = 10_000
    ) -> None:
        self.secret = secret
        self.ttl_seconds = ttl_seconds
        self.reuse_seconds = ttl_seconds / 4
        self.clock = clock
        self.memo: ExpiringMemo[Principal, str] = ExpiringMemo(max_entries)

    def token_for(self, principal: Principal) -> str:
        now = self.clock()
        token = self.memo.get(principal, now)
        if token is None:
            token = sign_internal_token(principal, self.secret, self.ttl_seconds)
            self.memo.put(principal, token, until=now + self.reuse_seconds, now=now)
        return token
