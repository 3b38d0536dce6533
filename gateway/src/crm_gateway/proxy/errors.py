"""Upstream failures as the client sees them (problem+json through the chassis handler)."""

from __future__ import annotations

import httpx

from crm_chassis.errors import AppError, ServiceUnavailable
from crm_gateway.proxy.breaker import CircuitOpen


class BadGateway(AppError):
    status, code = 502, "upstream_error"


class GatewayTimeout(AppError):
    status, code = 504, "upstream_timeout"


def upstream_failure(upstream: str, exc: httpx.TransportError) -> AppError:
    """The problem to answer with when a call to `upstream` failed before it had a response."""
    if isinstance(exc, CircuitOpen):
        return ServiceUnavailable(
            f"the {upstream} service failed repeatedly; calls to it are paused, retry later",
            code="upstream_circuit_open",
            upstream=upstream,
            headers={"Retry-After": exc.retry_after_header},
        )
    if isinstance(exc, httpx.PoolTimeout):
        # The gateway's own connection pool is exhausted: that is load here, not a slow upstream.
        return ServiceUnavailable(
            f"too many requests in flight to the {upstream} service; retry shortly",
            code="upstream_busy",
            headers={"Retry-After": "1"},
        )
    if isinstance(exc, httpx.TimeoutException):
        return GatewayTimeout(f"the {upstream} service did not answer in time", upstream=upstream)
    if isinstance(exc, httpx.ConnectError):
        return BadGateway(f"the {upstream} service is unreachable", code="upstream_unavailable", upstream=upstream)
    return BadGateway(f"the {upstream} service gave no valid answer", upstream=upstream)
