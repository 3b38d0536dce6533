"""The circuit breaker per upstream: its states on a fake clock, and what a client sees through the gateway."""

from __future__ import annotations

import uuid

import httpx
import pytest

from crm_gateway.proxy.breaker import BreakerPolicy, BreakerTransport, CircuitBreaker, CircuitOpen


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Upstream(httpx.AsyncBaseTransport):
    """Answers with the next scripted status, or raises when the script says so; counts calls."""

    def __init__(self, *script: int | Exception) -> None:
        self.script = list(script)
        self.calls = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        step = self.script.pop(0) if self.script else 200
        if isinstance(step, Exception):
            raise step
        return httpx.Response(step, request=request)


def client(upstream: Upstream, clock: Clock, failures: int = 3, cooldown: float = 10.0) -> httpx.AsyncClient:
    breaker = CircuitBreaker("customer", BreakerPolicy(failures=failures, cooldown=cooldown), clock=clock)
    return httpx.AsyncClient(base_url="http://customer", transport=BreakerTransport(upstream, breaker))


async def test_opens_after_consecutive_failures_and_refuses_without_calling() -> None:
    clock = Clock()
    down = httpx.ConnectError("refused")
    upstream = Upstream(503, down, 502)
    async with client(upstream, clock) as c:
        assert (await c.get("/x")).status_code == 503
        with pytest.raises(httpx.ConnectError):
            await c.get("/x")
        assert (await c.get("/x")).status_code == 502
        with pytest.raises(CircuitOpen) as refused:
            await c.get("/x")
    assert upstream.calls == 3  # the fourth call never left
    assert refused.value.retry_after_header == "10"


async def test_a_success_resets_the_count() -> None:
    clock = Clock()
    upstream = Upstream(503, 503, 200, 503, 503, 200)
    async with client(upstream, clock) as c:
        statuses = [(await c.get("/x")).status_code for _ in range(6)]
    assert statuses == [503, 503, 200, 503, 503, 200] and upstream.calls == 6


async def test_after_the_cooldown_one_trial_decides() -> None:
    clock = Clock()
    upstream = Upstream(504, 504, 504, 504)
    async with client(upstream, clock) as c:
        for _ in range(3):
            await c.get("/x")
        clock.now += 10.0
        assert (await c.get("/x")).status_code == 504  # the trial fails: open again
        with pytest.raises(CircuitOpen):
            await c.get("/x")
        clock.now += 10.0
        assert (await c.get("/x")).status_code == 200  # the next trial succeeds: closed
        assert (await c.get("/x")).status_code == 200
    assert upstream.calls == 6


async def test_only_one_trial_at_a_time() -> None:
    clock = Clock()
    breaker = CircuitBreaker("customer", BreakerPolicy(failures=1, cooldown=5.0), clock=clock)
    request = httpx.Request("GET", "http://customer/x")
    breaker.record(ok=False, trial=False)
    clock.now += 5.0
    assert breaker.before_call(request) is True and breaker.state == "open"
    with pytest.raises(CircuitOpen):
        breaker.before_call(request)
    breaker.release(True)  # the trial was cancelled: another may go
    assert breaker.state == "half_open" and breaker.before_call(request) is True


async def test_a_full_pool_here_does_not_count_against_the_upstream() -> None:
    clock = Clock()
    upstream = Upstream(*(httpx.PoolTimeout("pool full") for _ in range(5)))
    async with client(upstream, clock, failures=2) as c:
        for _ in range(5):
            with pytest.raises(httpx.PoolTimeout):
                await c.get("/x")
        assert (await c.get("/x")).status_code == 200


async def test_through_the_gateway_a_failing_upstream_is_paused_and_the_others_are_not(open_gateway) -> None:
    upstream = Upstream(*([503] * 3))
    async with open_gateway(transports={"scoring": upstream}, upstream_breaker_failures=3) as gateway:
        headers = await gateway.login()
        statuses = [(await gateway.client.get("/api/v1/scores", headers=headers)).status_code for _ in range(3)]
        paused = await gateway.client.get("/api/v1/scores", headers=headers)
        other = await gateway.client.get("/api/v1/customers", headers=headers)
        overview = await gateway.client.get(f"/api/v1/customers/{uuid.uuid4()}/overview", headers=headers)

    assert statuses == [503, 503, 503] and upstream.calls == 3  # the fourth call never left
    assert paused.status_code == 503 and paused.headers["content-type"] == "application/problem+json"
    assert paused.json()["code"] == "upstream_circuit_open" and paused.json()["upstream"] == "scoring"
    assert int(paused.headers["retry-after"]) >= 1
    assert other.status_code == 200  # the customer service's circuit is its own
    # the composite read degrades the paused part alone
    assert overview.status_code == 200 and overview.json()["scores"] == {"unavailable": True}
    assert upstream.calls == 3


async def test_a_client_gone_before_its_request_was_read_is_no_server_error(open_gateway, caplog) -> None:
    async with open_gateway() as gateway:
        headers = await gateway.login()
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": "/api/v1/customers",
            "raw_path": b"/api/v1/customers",
            "query_string": b"",
            "root_path": "",
            "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()] + [(b"host", b"gateway.test")],
            "client": ("203.0.113.7", 40000),
            "server": ("gateway.test", 80),
        }
        sent: list[dict[str, object]] = []

        async def receive() -> dict[str, object]:
            return {"type": "http.disconnect"}

        async def send(message: dict[str, object]) -> None:
            sent.append(message)

        await gateway.app(scope, receive, send)

    statuses = [m["status"] for m in sent if m["type"] == "http.response.start"]
    assert statuses == [499]
    assert gateway.seen("customer") == []  # nothing was sent upstream
    assert not [r for r in caplog.records if r.levelname == "ERROR"]
