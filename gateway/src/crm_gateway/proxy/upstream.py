"""One pooled HTTP client per upstream service, kept for the life of the process."""

from __future__ import annotations

from collections.abc import Mapping

import httpx
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from crm_chassis import tracing
from crm_gateway.config import Settings
from crm_gateway.proxy.breaker import BreakerPolicy, BreakerTransport, CircuitBreaker
from crm_gateway.proxy.transport import UpstreamTransport

UPSTREAMS = ("customer", "scoring", "feedback")


def build_clients(
    settings: Settings,
    transports: Mapping[str, httpx.AsyncBaseTransport] | None = None,
    *,
    fresh: bool = False,
    breakers: dict[str, CircuitBreaker] | None = None,
    breaker: bool = True,
) -> dict[str, httpx.AsyncClient]:
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
        name: httpx.AsyncClient(
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
