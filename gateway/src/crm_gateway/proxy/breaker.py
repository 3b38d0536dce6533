"""A circuit breaker per upstream, as an httpx transport: a failing service is given time to recover.

After `failures` consecutive failed calls (no answer, or 502/503/504) the circuit opens: calls are
refused at once, without touching the network, for `cooldown` seconds. Then one trial call goes
through (half-open) while the others are still refused; its success closes the circuit, its
failure opens it for another cooldown. Every user of the upstream's client (the proxy, the
composite reads, readiness) goes through the same breaker.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

logger = logging.getLogger("crm.gateway.breaker")
FAILING_STATUSES = frozenset({502, 503, 504})


class CircuitOpen(httpx.TransportError):
    """The upstream failed repeatedly; calls are refused until `retry_after` seconds have passed."""

    def __init__(self, upstream: str, retry_after: float, request: httpx.Request) -> None:
        super().__init__(f"circuit to the {upstream} service is open", request=request)
        self.upstream = upstream
        self.retry_after = retry_after

    @property
    def retry_after_header(self) -> str:
        return str(max(1, math.ceil(self.retry_after)))


@dataclass(frozen=True)
class BreakerPolicy:
    failures: int = 5
    cooldown: float = 10.0


class CircuitBreaker:
    def __init__(self, upstream: str, policy: BreakerPolicy, clock: Callable[[], float] = time.monotonic) -> None:
        self.upstream = upstream
        self.policy = policy
        self._clock = clock
        self._failures = 0
        self._open_until: float | None = None
        self._trial_running = False

    @property
    def state(self) -> str:
        if self._open_until is None:
            return "closed"
        return "open" if self._clock() < self._open_until or self._trial_running else "half_open"

    def before_call(self, request: httpx.Request) -> bool:
        """Raise CircuitOpen if the call may not go out; True if it is the half-open trial."""
        if self._open_until is None:
            return False
        now = self._clock()
        if now < self._open_until:
            raise CircuitOpen(self.upstream, self._open_until - now, request)
        if self._trial_running:
            raise CircuitOpen(self.upstream, self.policy.cooldown, request)
        self._trial_running = True
        return True

    def release(self, trial: bool) -> None:
        """A call ended without telling whether the upstream works: let another trial go."""
        if trial:
            self._trial_running = False

    def record(self, *, ok: bool, trial: bool) -> None:
        if trial:
            self._trial_running = False
        if ok:
            if self._open_until is not None:
                logger.info("circuit closed", extra={"upstream": self.upstream})
            self._failures, self._open_until = 0, None
            return
        self._failures += 1
        if trial or self._failures >= self.policy.failures:
            if self._open_until is None:
                logger.warning("circuit opened", extra={"upstream": self.upstream, "failures": self._failures})
            self._open_until = self._clock() + self.policy.cooldown


class BreakerTransport(httpx.AsyncBaseTransport):
    """Wraps the real transport of one upstream's client."""

    def __init__(self, inner: httpx.AsyncBaseTransport, breaker: CircuitBreaker) -> None:
        self.inner = inner
        self.breaker = breaker

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        trial = self.breaker.before_call(request)
        try:
            response = await self.inner.handle_async_request(request)
        except httpx.PoolTimeout:
            # our own pool is full: load on this side, which says nothing about the upstream
            self.breaker.release(trial)
            raise
        except httpx.TransportError:
            self.breaker.record(ok=False, trial=trial)
            raise
        except BaseException:
            # cancelled (the client went away): nothing learnt either
            self.breaker.release(trial)
            raise
        self.breaker.record(ok=response.status_code not in FAILING_STATUSES, trial=trial)
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()
