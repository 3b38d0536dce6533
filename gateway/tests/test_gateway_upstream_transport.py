"""The aiohttp transport under the upstream clients keeps httpx's meaning of each failure."""

from __future__ import annotations

import asyncio
import socket

import httpx
import pytest
from fastapi import FastAPI

from crm_gateway.proxy.transport import UpstreamTransport

from .support import serve


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_a_refused_connection_is_a_connect_error_not_a_timeout():
    transport = UpstreamTransport(httpx.Limits(max_connections=5), pool_timeout=1)
    async with httpx.AsyncClient(transport=transport) as client:
        with pytest.raises(httpx.ConnectError) as raised:
            await client.get(f"http://127.0.0.1:{_closed_port()}/x")
    assert not isinstance(raised.value, httpx.TimeoutException)


async def test_a_read_that_never_ends_is_a_read_timeout():
    app = FastAPI()

    @app.get("/slow")
    async def slow() -> dict[str, bool]:
        await asyncio.sleep(5)
        return {"late": True}

    transport = UpstreamTransport(httpx.Limits(max_connections=5), pool_timeout=1)
    async with serve(app) as url, httpx.AsyncClient(transport=transport, timeout=httpx.Timeout(0.2)) as client:
        with pytest.raises(httpx.ReadTimeout):
            await client.get(url + "/slow")


async def test_a_full_pool_is_503_upstream_busy_and_does_not_open_the_breaker(open_gateway):
    upstream = FastAPI()
    release, entered = asyncio.Event(), asyncio.Event()

    @upstream.get("/customers/{customer_id}")
    async def held(customer_id: str) -> dict[str, str]:
        entered.set()
        await release.wait()
        return {"id": customer_id}

    async with (
        serve(upstream) as url,
        open_gateway(
            transports={"customer": None},
            customer_url=url,
            upstream_max_connections=1,
            upstream_pool_timeout=0.2,
            upstream_breaker_failures=1,
        ) as gateway,
    ):
        headers = await gateway.login()
        first = asyncio.create_task(gateway.client.get("/api/v1/customers/a", headers=headers))
        await asyncio.wait_for(entered.wait(), 60)  # the first call holds the only connection
        busy = await gateway.client.get("/api/v1/customers/b", headers=headers)
        release.set()
        held_answer = await first
        after = await gateway.client.get("/api/v1/customers/c", headers=headers)

    assert busy.status_code == 503, busy.text
    assert busy.json()["code"] == "upstream_busy"
    assert busy.headers["retry-after"] == "1"
    assert held_answer.status_code == 200
    assert after.status_code == 200  # one failure would have opened it: the busy pool was not counted


async def test_the_connection_slot_is_given_back_when_the_body_is_closed():
    app = FastAPI()

    @app.get("/ok")
    async def ok() -> dict[str, bool]:
        return {"ok": True}

    transport = UpstreamTransport(httpx.Limits(max_connections=1), pool_timeout=0.2)
    async with serve(app) as url, httpx.AsyncClient(transport=transport) as client:
        answers = [(await client.get(url + "/ok")).status_code for _ in range(5)]
    assert answers == [200] * 5
