"""One pooled HTTP client per upstream service, kept for the life of the process."""

from __future__ import annotations

from collections.abc import Mapping

import httpx
from prometheus_client import CollectorRegistry, Counter, Histogram

from crm_gateway.breaker import BreakerPolicy, BreakerTransport, CircuitBreaker
from crm_gateway.config import Settings

UPSTREAMS = ("customer", "scoring", "feedback")


def build_clients(
    settings: Settings, transports: Mapping[str, httpx.AsyncBaseTransport] | None = None
) -> dict[str, httpx.AsyncClient]:
    """Clients for every upstream; `transports` replaces the network for some of them (tests)."""
    transports = transports or {}
    timeout = httpx.Timeout(
        connect=settings.upstream_connect_timeout,
        read=settings.upstream_read_timeout,
        write=settings.upstream_write_timeout,
        pool=settings.upstream_pool_timeout,
    )
    limits = httpx.Limits(
        max_connections=settings.upstream_max_connections,
        max_keepalive_connections=settings.upstream_max_keepalive,
        keepalive_expiry=settings.upstream_keepalive_expiry,
    )
    urls = settings.upstream_urls()
    policy = BreakerPolicy(failures=settings.upstream_breaker_failures, cooldown=settings.upstream_breaker_cooldown)

    def transport(name: str) -> BreakerTransport:
        # the pool limits belong to the transport: a client given a transport ignores its own
        inner = transports.get(name) or httpx.AsyncHTTPTransport(limits=limits, trust_env=False)
        return BreakerTransport(inner, CircuitBreaker(name, policy))

    return {
        name: httpx.AsyncClient(
            base_url=urls[name],
            timeout=timeout,
            transport=transport(name),
            # Proxy variables in the environment must not reroute calls between our own services.
            trust_env=False,
            follow_redirects=False,
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
