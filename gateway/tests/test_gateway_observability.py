"""Trace context through the gateway, and the gateway's metrics: breakers, webhook deliveries, process."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families

from crm_chassis import tracing

from .test_gateway_failures import raising
from .test_gateway_webhooks_delivery import queue

CLIENT_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CLIENT_PARENT = "00f067aa0ba902b7"


def _samples(text: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                found[tuple(sorted(sample.labels.items()))] = sample.value
    return found


async def test_a_clients_traceparent_is_continued_to_the_service(gateway, admin_headers):
    sent = f"00-{CLIENT_TRACE}-{CLIENT_PARENT}-01"
    response = await gateway.client.get("/api/v1/customers/42", headers=admin_headers | {"traceparent": sent})

    assert response.status_code == 200
    seen = gateway.seen("customer")[-1]["headers"]["traceparent"]
    trace_id, parent, flags = tracing.parse(seen) or ("", "", "")
    assert trace_id == CLIENT_TRACE  # the same trace
    assert parent != CLIENT_PARENT  # the gateway's own span is the service's parent
    assert flags == "01"


async def test_without_a_traceparent_the_gateway_starts_a_trace(gateway, admin_headers):
    await gateway.client.get("/api/v1/customers/1", headers=admin_headers)
    await gateway.client.get("/api/v1/customers/2", headers=admin_headers)

    first, second = (tracing.parse(r["headers"]["traceparent"]) for r in gateway.seen("customer")[-2:])
    assert first is not None and second is not None
    assert first[0] != second[0]  # one trace per request


async def test_an_invalid_traceparent_is_replaced_not_forwarded(gateway, admin_headers):
    bad = "00-00000000000000000000000000000000-00f067aa0ba902b7-01"
    await gateway.client.get("/api/v1/customers/7", headers=admin_headers | {"traceparent": bad})

    seen = gateway.seen("customer")[-1]["headers"]["traceparent"]
    assert seen != bad and tracing.parse(seen) is not None


async def test_breaker_state_per_upstream_is_a_metric(open_gateway):
    async with open_gateway(
        transports={"scoring": raising(httpx.ConnectError)}, upstream_breaker_failures=1
    ) as gateway:
        headers = await gateway.login()
        before = _samples((await gateway.client.get("/metrics")).text, "gateway_upstream_breaker_state")
        await gateway.client.get("/api/v1/scores", headers=headers)
        after = _samples((await gateway.client.get("/metrics")).text, "gateway_upstream_breaker_state")

    def state(samples, upstream):  # type: ignore[no-untyped-def]
        return {dict(k)["state"]: v for k, v in samples.items() if dict(k)["upstream"] == upstream}

    assert state(before, "scoring") == {"closed": 1.0, "half_open": 0.0, "open": 0.0}
    assert state(after, "scoring") == {"closed": 0.0, "half_open": 0.0, "open": 1.0}
    assert state(after, "customer")["closed"] == 1.0


async def test_webhook_deliveries_are_counted_by_outcome_with_latency(hooks):
    await hooks.subscribe()
    await queue(hooks, amount="1.00", currency="CNY")
    assert await hooks.dispatch() >= 1

    text = (await hooks.gateway.client.get("/metrics")).text
    counted = _samples(text, "gateway_webhook_deliveries_total")
    timed = _samples(text, "gateway_webhook_delivery_seconds_count")
    assert counted[(("outcome", "delivered"), ("result", "2xx"))] == 1
    assert timed[(("outcome", "delivered"),)] == 1


async def test_failed_webhook_attempts_are_counted_as_retrying(open_hooks):
    async with open_hooks() as hooks:
        hooks.receiver.status = 500
        await hooks.subscribe()
        await queue(hooks)
        assert await hooks.dispatch() >= 1
        text = (await hooks.gateway.client.get("/metrics")).text

    assert _samples(text, "gateway_webhook_deliveries_total")[(("outcome", "retrying"), ("result", "5xx"))] == 1


async def test_process_metrics_are_served(gateway):
    text = (await gateway.client.get("/metrics")).text
    assert _samples(text, "process_resident_memory_bytes")
    assert _samples(text, "process_cpu_seconds_total")
