"""The Idempotency-Key middleware: its defaults, and the hooks an app that is not a plain service sets."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.types import Scope

from crm_chassis.db import create_engine, create_sessionmaker, make_metadata
from crm_chassis.errors import Unauthorized, install_error_handlers
from crm_chassis.idempotency import IdempotencyMiddleware, RawHeaders
from crm_chassis.tables import infra_tables

metadata = make_metadata("idempotencytest")
infra = infra_tables(metadata)
PATH = "/things"

AppFactory = Callable[..., httpx.AsyncClient]


@pytest.fixture
async def sessionmaker(tmp_path: Path) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'i.db'}", "idempotencytest")
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    yield create_sessionmaker(engine)
    await engine.dispose()


@pytest.fixture
def received() -> list[bytes]:
    """Every body the route was handed."""
    return []


@pytest.fixture
def client_for(sessionmaker: async_sessionmaker[AsyncSession], received: list[bytes]) -> AppFactory:
    def make(**hooks: Any) -> httpx.AsyncClient:
        app = FastAPI()
        install_error_handlers(app)
        app.state.sessionmaker = sessionmaker

        @app.post(PATH, status_code=201)
        async def create(request: Request) -> dict[str, Any]:
            body = await request.body()
            received.append(body)
            return {"id": str(uuid.uuid4()), "secret": uuid.uuid4().hex, "sent": json.loads(body)}

        app.add_middleware(IdempotencyMiddleware, table=infra.idempotency, ttl=timedelta(hours=1), **hooks)
        return httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://test")

    return make


async def _stored(sessionmaker: async_sessionmaker[AsyncSession], key: str) -> list[dict[str, Any]]:
    table = infra.idempotency
    async with sessionmaker() as session:
        return [dict(row) for row in (await session.execute(select(table).where(table.c.key == key))).mappings()]


def _key() -> dict[str, str]:
    return {"Idempotency-Key": uuid.uuid4().hex}


async def test_by_default_a_retry_answers_the_first_response_with_a_plain_fingerprint(
    client_for: AppFactory, sessionmaker: async_sessionmaker[AsyncSession], received: list[bytes]
) -> None:
    headers, raw = _key() | {"Content-Type": "application/json"}, b'{"name":"x"}'
    async with client_for() as client:
        first = await client.post(PATH, headers=headers, content=raw)
        again = await client.post(PATH, headers=headers, content=raw)

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert received == [raw]
    (row,) = await _stored(sessionmaker, headers["Idempotency-Key"])
    # Unchanged from before the hooks existed, so keys stored by an earlier release still match.
    assert row["fingerprint"] == hashlib.sha256(f"{PATH}?\n".encode() + raw).hexdigest()
    assert row["principal"] == "anonymous"


async def test_a_request_the_selector_leaves_out_passes_through_untouched(
    client_for: AppFactory, sessionmaker: async_sessionmaker[AsyncSession], received: list[bytes]
) -> None:
    headers = _key()
    async with client_for(handles=lambda scope: False) as client:
        answers = [await client.post(PATH, headers=headers, json={"n": 1}) for _ in range(2)]

    assert [a.status_code for a in answers] == [201, 201]
    assert answers[0].json()["id"] != answers[1].json()["id"]
    assert len(received) == 2
    assert await _stored(sessionmaker, headers["Idempotency-Key"]) == []


async def test_the_caller_hook_scopes_keys_and_its_refusal_is_answered_before_the_store(
    client_for: AppFactory, sessionmaker: async_sessionmaker[AsyncSession], received: list[bytes]
) -> None:
    async def caller(scope: Scope) -> str:
        name = dict(scope["headers"]).get(b"x-caller")
        if name is None:
            raise Unauthorized("who are you?", code="not_authenticated", headers={"WWW-Authenticate": "Test"})
        return name.decode()

    key = _key()
    async with client_for(caller=caller) as client:
        refused = await client.post(PATH, headers=key | {"Idempotency-Key": "x" * 300}, json={"n": 1})
        ann = await client.post(PATH, headers=key | {"X-Caller": "ann"}, json={"n": 1})
        bob = await client.post(PATH, headers=key | {"X-Caller": "bob"}, json={"n": 1})

    # Refused as the route would refuse (problem+json with its headers), before the key is even checked.
    assert (refused.status_code, refused.json()["code"]) == (401, "not_authenticated")
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.headers["www-authenticate"] == "Test"
    assert ann.status_code == bob.status_code == 201
    assert "idempotent-replayed" not in bob.headers
    assert len(received) == 2
    rows = await _stored(sessionmaker, key["Idempotency-Key"])
    assert sorted(row["principal"] for row in rows) == ["ann", "bob"]


async def test_the_body_fingerprint_hook_stands_for_the_body_and_the_route_still_gets_the_body(
    client_for: AppFactory, sessionmaker: async_sessionmaker[AsyncSession], received: list[bytes]
) -> None:
    headers, raw = _key() | {"Content-Type": "application/json"}, b'{"password":"hunter2"}'
    async with client_for(body_fingerprint=lambda body: b"digest-of-" + str(len(body)).encode()) as client:
        first = await client.post(PATH, headers=headers, content=raw)
        other = await client.post(PATH, headers=headers, content=b'{"password":"hunter3"}')

    assert first.status_code == 201
    assert received == [raw]
    (row,) = await _stored(sessionmaker, headers["Idempotency-Key"])
    assert row["fingerprint"] == hashlib.sha256(f"{PATH}?\n".encode() + f"digest-of-{len(raw)}".encode()).hexdigest()
    # Bodies the hook cannot tell apart are one request to the store: a replay, not a 422.
    assert other.headers["idempotent-replayed"] == "true"


async def test_the_stored_body_hook_changes_the_replay_only(
    client_for: AppFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    def without_secret(status: int, headers: RawHeaders, body: bytes) -> bytes:
        return json.dumps(json.loads(body) | {"secret": None}).encode()

    headers = _key()
    async with client_for(stored_body=without_secret) as client:
        first = await client.post(PATH, headers=headers, json={"n": 1})
        again = await client.post(PATH, headers=headers, json={"n": 1})

    assert first.json()["secret"] is not None
    assert again.json() == first.json() | {"secret": None}
    assert int(again.headers["content-length"]) == len(again.content)
    (row,) = await _stored(sessionmaker, headers["Idempotency-Key"])
    assert first.json()["secret"].encode() not in row["body"]
