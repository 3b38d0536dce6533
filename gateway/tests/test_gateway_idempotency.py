"""Idempotency-Key on the gateway's own creates: replays, reuse, races, callers, and what is stored."""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid
from typing import Any

from sqlalchemy import func, select

from crm_gateway.api_keys.models import ApiKey
from crm_gateway.db import infra
from crm_gateway.users.models import Role, UserAccount
from crm_gateway.webhooks.models import WebhookSubscription
from crm_gateway.webhooks.runtime import WebhookRuntime

from .webhook_support import fake_resolver

USERS = "/api/v1/users"
KEYS = "/api/v1/api-keys"
HOOKS = "/api/v1/webhooks"


def _key() -> dict[str, str]:
    return {"Idempotency-Key": uuid.uuid4().hex}


def _new_user() -> dict[str, Any]:
    return {
        "email": f"idem-{uuid.uuid4().hex[:10]}@crm.test",
        "password": f"Secret-{uuid.uuid4().hex[:12]}",
        "role": "agent",
        "name": "Idem Potent",
    }


async def _stored(gateway, key: str) -> list[dict[str, Any]]:
    table = infra.idempotency
    async with gateway.app.state.sessionmaker() as session:
        rows = await session.execute(select(table).where(table.c.key == key))
        return [dict(row) for row in rows.mappings()]


async def _count(gateway, column, value) -> int:
    async with gateway.app.state.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).where(column == value)) or 0)


async def test_a_retried_user_create_answers_the_first_response_and_creates_one_user(gateway, admin_headers):
    headers, body = admin_headers | _key(), _new_user()

    first = await gateway.client.post(USERS, headers=headers, json=body)
    again = await gateway.client.post(USERS, headers=headers, json=body)

    assert first.status_code == again.status_code == 201, again.text
    assert again.json() == first.json()
    assert again.headers["location"] == first.headers["location"]
    assert again.headers["etag"] == first.headers["etag"]
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert await _count(gateway, UserAccount.email, body["email"]) == 1


async def test_the_same_key_with_another_body_is_422(gateway, admin_headers):
    headers = admin_headers | _key()
    assert (await gateway.client.post(USERS, headers=headers, json=_new_user())).status_code == 201

    other = await gateway.client.post(USERS, headers=headers, json=_new_user())

    assert other.status_code == 422
    assert other.headers["content-type"] == "application/problem+json"
    assert other.json()["code"] == "idempotency_key_reused"


async def test_keys_are_scoped_per_caller(gateway, admin_headers):
    _, other_admin = await gateway.signed_in(Role.admin)
    key, body = _key(), {"name": f"shop-{uuid.uuid4().hex[:8]}", "scopes": ["orders:write"]}

    mine = await gateway.client.post(KEYS, headers=admin_headers | key, json=body)
    theirs = await gateway.client.post(KEYS, headers=other_admin | key, json=body)

    assert mine.status_code == theirs.status_code == 201
    assert "idempotent-replayed" not in theirs.headers
    assert mine.json()["id"] != theirs.json()["id"]
    assert len(await _stored(gateway, key["Idempotency-Key"])) == 2


async def test_an_api_key_replay_answers_everything_but_the_secret(gateway, admin_headers):
    headers, body = admin_headers | _key(), {"name": f"shop-{uuid.uuid4().hex[:8]}", "scopes": ["customers:read"]}

    first = await gateway.client.post(KEYS, headers=headers, json=body)
    again = await gateway.client.post(KEYS, headers=headers, json=body)

    assert first.status_code == again.status_code == 201
    secret = first.json()["key"]
    assert secret.startswith("crm_")
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json() | {"key": None}
    assert int(again.headers["content-length"]) == len(again.content)
    assert await _count(gateway, ApiKey.name, body["name"]) == 1
    # The first answer's secret is the working one; the store never held it.
    assert (await gateway.client.get("/api/v1/customers", headers={"X-API-Key": secret})).status_code == 200
    (row,) = await _stored(gateway, headers["Idempotency-Key"])
    assert secret.encode() not in row["body"]
    assert json.loads(row["body"])["key"] is None


async def test_the_store_holds_no_password_nor_a_plain_digest_of_one(gateway, admin_headers):
    headers, body = admin_headers | _key(), _new_user()
    raw = json.dumps(body).encode()

    response = await gateway.client.post(USERS, headers=headers | {"Content-Type": "application/json"}, content=raw)

    assert response.status_code == 201
    (row,) = await _stored(gateway, headers["Idempotency-Key"])
    assert body["password"].encode() not in row["body"]
    # A plain SHA-256 of the request would let a reader of the table test password guesses offline.
    plain = hashlib.sha256(f"{USERS}?\n".encode() + raw).hexdigest()
    assert row["fingerprint"] != plain
    # The route got the real body: the user signs in with the password sent.
    assert (await gateway.login(body["email"], body["password"]))["Authorization"].startswith("Bearer ")


async def test_a_webhook_replay_answers_everything_but_the_secret(hooks):
    gateway, headers = hooks.gateway, hooks.admin | _key()
    body = {"url": "https://partner.example/hook", "event_types": ["order.recorded"], "description": uuid.uuid4().hex}

    first = await gateway.client.post(HOOKS, headers=headers, json=body)
    again = await gateway.client.post(HOOKS, headers=headers, json=body)

    assert first.status_code == again.status_code == 201, again.text
    assert first.json()["secret"].startswith("whsec_")
    assert again.json() == first.json() | {"secret": None}
    assert again.headers["location"] == first.headers["location"]
    assert await _count(gateway, WebhookSubscription.description, body["description"]) == 1


async def test_a_duplicate_of_a_create_still_running_is_409(open_gateway):
    entered, release = asyncio.Event(), asyncio.Event()

    async def slow_resolver(host: str, port: int) -> list[str]:
        if not entered.is_set():  # only the first request waits
            entered.set()
            await asyncio.wait_for(release.wait(), 10)
        return await fake_resolver(host, port)

    async with open_gateway(webhook_runtime=WebhookRuntime(resolver=slow_resolver)) as gateway:
        headers = await gateway.login() | _key()
        body = {"url": "https://partner.example/hook", "event_types": ["order.recorded"]}
        first = asyncio.create_task(gateway.client.post(HOOKS, headers=headers, json=body))
        await asyncio.wait_for(entered.wait(), 10)

        duplicate = await asyncio.wait_for(gateway.client.post(HOOKS, headers=headers, json=body), 10)
        release.set()
        created = await asyncio.wait_for(first, 10)
        later = await gateway.client.post(HOOKS, headers=headers, json=body)
        for made in {created.json()["id"], duplicate.json().get("id")} - {None}:
            await gateway.client.delete(f"{HOOKS}/{made}", headers=headers)

    assert duplicate.status_code == 409
    assert duplicate.json()["code"] == "idempotency_in_flight"
    assert created.status_code == 201
    assert later.status_code == 201 and later.json()["id"] == created.json()["id"]


async def test_callers_who_may_not_call_the_route_never_reach_the_store(gateway, admin_headers):
    key, body = _key(), {"name": f"shop-{uuid.uuid4().hex[:8]}", "scopes": ["orders:write"]}
    assert (await gateway.client.post(KEYS, headers=admin_headers | key, json=body)).status_code == 201
    _, agent = await gateway.signed_in(Role.agent)
    _, partner = await gateway.add_key({"orders:write"})

    nobody = await gateway.client.post(KEYS, headers=key, json=body)
    forged = await gateway.client.post(KEYS, headers=key | {"Authorization": "Bearer forged"}, json=body)
    refused = await gateway.client.post(KEYS, headers=agent | key, json=body)
    keyed = await gateway.client.post(KEYS, headers={"X-API-Key": partner} | key, json=body)

    assert (nobody.status_code, nobody.json()["code"]) == (401, "not_authenticated")
    assert "www-authenticate" in nobody.headers
    assert (forged.status_code, forged.json()["code"]) == (401, "invalid_token")
    assert (refused.status_code, refused.json()["code"]) == (403, "role_not_allowed")
    assert (keyed.status_code, keyed.json()["code"]) == (403, "scope_not_allowed")
    assert all(r.headers["content-type"] == "application/problem+json" for r in (nobody, refused, keyed))
    assert len(await _stored(gateway, key["Idempotency-Key"])) == 1


async def test_proxied_posts_are_left_to_the_services(gateway, admin_headers):
    headers = admin_headers | _key()

    answers = [await gateway.client.post("/api/v1/customers", headers=headers, json={"name": "x"}) for _ in range(2)]

    assert [a.status_code for a in answers] == [201, 201]
    assert not any("idempotent-replayed" in a.headers for a in answers)
    reached = [s for s in gateway.seen("customer") if s["method"] == "POST"][-2:]
    assert [s["headers"]["idempotency-key"] for s in reached] == [headers["Idempotency-Key"]] * 2
    assert await _stored(gateway, headers["Idempotency-Key"]) == []


async def test_sign_in_answers_are_never_stored(gateway):
    key = _key()
    form = {"username": "root@crm.test", "password": "correct horse battery staple"}

    answers = [await gateway.client.post("/api/v1/auth/token", headers=key, data=form) for _ in range(2)]

    assert [a.status_code for a in answers] == [200, 200]
    assert answers[0].json()["refresh_token"] != answers[1].json()["refresh_token"]
    assert await _stored(gateway, key["Idempotency-Key"]) == []


async def test_a_request_without_a_key_is_not_stored_and_creates_each_time(gateway, admin_headers):
    body = {"name": f"shop-{uuid.uuid4().hex[:8]}", "scopes": ["orders:write"]}

    answers = [await gateway.client.post(KEYS, headers=admin_headers, json=body) for _ in range(2)]

    assert [a.status_code for a in answers] == [201, 201]
    assert await _count(gateway, ApiKey.name, body["name"]) == 2
