"""One pooled HTTP client per upstream service, kept for the life of the process."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterable, Mapping
from typing import Any

import httpx
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from crm_chassis import tracing
from crm_gateway.config import Settings
from crm_gateway.proxy.breaker import BreakerPolicy, BreakerTransport, CircuitBreaker
from crm_gateway.proxy.transport import UpstreamTransport

UPSTREAMS = ("customer", "scoring", "feedback")
_httpx_logger = logging.getLogger("httpx")


class UpstreamClient(httpx.AsyncClient):
    """httpx's client for one upstream, with `forward`: the proxy's call handed straight to the
    client's transport (the circuit breaker over the pool), without the client's layers.

    Those layers (auth flow, redirect loop, event hooks, the cookie jar, response timing) cost the
    gateway about an eighth of a proxied read and do nothing on that path: the proxy sends no
    credentials of its own, follows no redirect and must not keep cookies. What they do that
    matters is done here as well: the URL under the base, the client's default headers under the
    caller's, the client's timeouts, the `traceparent` of the current span, httpx's log line.
    """

    def __init__(self, *, transport: httpx.AsyncBaseTransport, **kwargs: Any) -> None:
        super().__init__(transport=transport, **kwargs)
        self.network = transport
        self._timeouts = self.timeout.as_dict()

    async def forward(
        self,
        method: str,
        path: str,
        query: bytes,
        headers: httpx.Headers,
        content: bytes | AsyncIterable[bytes],
    ) -> httpx.Response:
        """Send `method path?query` (under the base) and return the response with its body unread.

        The URL is parsed once, straight under the base (`URL(path=..., query=...)` merged into
        the base parsed it twice, for the same result).

        Unlike `send`, nothing of the answer is remembered: an upstream's Set-Cookie goes back to
        the caller only, never to later calls of other callers.
        """
        if self.is_closed:
            raise RuntimeError("Cannot send a request, as the client has been closed.")
        merged = httpx.Headers(self.headers)
        merged.update(headers)
        base = self.base_url
        request = httpx.Request(
            method,
            base.copy_with(path=base.path + path.lstrip("/"), query=query or None),
            headers=merged,
            content=content,
            extensions={"timeout": self._timeouts},
        )
        context = tracing.current()
        if context is not None:
            request.headers[tracing.HEADER] = context.traceparent
        try:
            response = await self.network.handle_async_request(request)
        except httpx.RequestError as exc:
            exc.request = request  # as the client does: every failure names its request
            raise
        response.request = request
        if _httpx_logger.isEnabledFor(logging.INFO):
            _httpx_logger.info(
                'HTTP Request: %s %s "%s %d %s"',
                request.method,
                request.url,
                response.http_version,
                response.status_code,
                response.reason_phrase,
            )
        return response


def build_clients(
    settings: Settings,
    transports: Mapping[str, httpx.AsyncBaseTransport] | None = None,
    *,
    fresh: bool = False,
    breakers: dict[str, CircuitBreaker] | None = None,
    breaker: bool = True,
) -> dict[str, UpstreamClient]:
    """Clients for every upstream; `transports` replaces the network for some of them (tests).

    With `fresh`, a client that keeps no idle connection: each call opens its own, for the one
    retry of a call whose pooled connection failed before any answer. `breakers` receives the
    circuit breaker of each upstream (for the metrics). Without `breaker`, calls bypass the
    upstream's circuit breaker: for the webhook feed followers, whose polls of a service that is
    still starting must not open the circuit for the clients' requests. Every call carries the
    trace context.
    """
    transports = transports or {}
    timeout = httpx.Timeout(
        connect=settings.upstream_connect_timeout,
        read=settings.upstream_read_timeout,
        write=settings.upstream_write_timeout,
        pool=settings.upstream_pool_timeout,
    )
    limits = httpx.Limits(
        max_connections=settings.upstream_max_connections,
        max_keepalive_connections=0 if fresh else settings.upstream_max_keepalive,
        keepalive_expiry=settings.upstream_keepalive_expiry,
    )
    urls = settings.upstream_urls()
    policy = BreakerPolicy(failures=settings.upstream_breaker_failures, cooldown=settings.upstream_breaker_cooldown)

    def network() -> httpx.AsyncBaseTransport:
        if settings.upstream_http_client == "aiohttp":
            return UpstreamTransport(limits, pool_timeout=settings.upstream_pool_timeout)
        return httpx.AsyncHTTPTransport(limits=limits, trust_env=False)

    def transport(name: str) -> httpx.AsyncBaseTransport:
        # the pool limits belong to the transport: a client given a transport ignores its own
        inner = transports.get(name) or network()
        if not breaker:
            return inner
        circuit = CircuitBreaker(name, policy)
        if breakers is not None:
            breakers[name] = circuit
        return BreakerTransport(inner, circuit)

    return {
        name: UpstreamClient(
            base_url=urls[name],
            timeout=timeout,
            transport=transport(name),
            # Proxy variables in the environment must not reroute calls between our own services.
            trust_env=False,
            follow_redirects=False,
            event_hooks={"request": [tracing.inject]},
        )
        for name in UPSTREAMS
    }


async def close_clients(clients: Mapping[str, httpx.AsyncClient]) -> None:
    for client in clients.values():
        await client.aclose()


class UpstreamMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.responses = Counter(
            "gateway_upstream_requests_total",
            "Calls to upstream services by outcome (HTTP status or transport error)",
            ["upstream", "outcome"],
            registry=registry,
        )
        self.latency = Histogram(
            "gateway_upstream_response_seconds",
            "Time until an upstream's response headers arrived",
            ["upstream"],
            registry=registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
        )


BREAKER_STATES = ("closed", "half_open", "open")


class BreakerStates(Collector):
    """`gateway_upstream_breaker_state{upstream, state}`: 1 for each upstream's current state,
    read from the breakers at scrape time (so an open circuit that has cooled down shows half_open)."""

    def __init__(self, breakers: Mapping[str, CircuitBreaker]) -> None:
        self.breakers = breakers

    def collect(self) -> list[Metric]:
        family = GaugeMetricFamily(
            "gateway_upstream_breaker_state",
            "Circuit breaker state per upstream: 1 for the current state, 0 for the others",
            labels=["upstream", "state"],
        )
        for name, breaker in self.breakers.items():
            current = breaker.state
            for state in BREAKER_STATES:
                family.add_metric([name, state], 1.0 if state == current else 0.0)
        return [family]
