"""Running CSV imports in tests: post a file, wait for its job, read its counts and events."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from sqlalchemy import func, select

from crm_customer.db import infra


async def wait_for(client: httpx.AsyncClient, path: str) -> dict[str, Any]:
    for _ in range(1000):
        body: dict[str, Any] = (await client.get(path)).json()
        if body["status"] in ("succeeded", "failed"):
            return body
        await asyncio.sleep(0.01)
    raise AssertionError(f"{path} did not finish")


async def post_csv(client: httpx.AsyncClient, kind: str, content: str | bytes, **params: str) -> httpx.Response:
    data = content.encode() if isinstance(content, str) else content
    files = {"file": ("data.csv", data, "text/csv")}
    return await client.post("/imports", params={"kind": kind, **params}, files=files)


async def run_import(client: httpx.AsyncClient, kind: str, content: str | bytes, **params: str) -> dict[str, Any]:
    response = await post_csv(client, kind, content, **params)
    assert response.status_code == 202, response.text
    assert response.headers["location"] == f"/imports/{response.json()['id']}"
    assert response.json()["status"] in ("queued", "running", "succeeded")
    return await wait_for(client, response.headers["location"])


def counts(job: dict[str, Any]) -> tuple[int, int, int, int]:
    c = job["counts"]
    return c["created"], c["updated"], c["skipped"], c["failed"]


async def events_of(db: Any, type: str) -> int:
    async with db() as session:
        return int(await session.scalar(select(func.count()).where(infra.outbox.c.type == type)))
