"""Refresh tokens rotate and are revocable; repeated sign-in failures lock without revealing accounts."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import update

from crm_chassis.db import utcnow
from crm_gateway.auth.models import RefreshToken

from .conftest import ADMIN_EMAIL, ADMIN_PASSWORD

TOKEN_URL = "/api/v1/auth/token"


async def _sign_in(gateway, email=ADMIN_EMAIL, password=ADMIN_PASSWORD, address=None):
    headers = {"X-Forwarded-For": address} if address else {}
    return await gateway.client.post(TOKEN_URL, data={"username": email, "password": password}, headers=headers)


async def _refresh(gateway, token):
    return await gateway.client.post("/api/v1/auth/refresh", json={"refresh_token": token})


async def test_sign_in_answers_both_tokens(gateway):
    body = (await _sign_in(gateway)).json()

    assert set(body) == {"access_token", "token_type", "expires_in", "refresh_token"}
    assert body["expires_in"] == 900
    assert len(body["refresh_token"]) >= 40


async def test_refresh_rotates_and_a_reused_token_revokes_the_family(gateway):
    first = (await _sign_in(gateway)).json()["refresh_token"]

    second = await _refresh(gateway, first)
    assert second.status_code == 200
    new = second.json()
    assert new["refresh_token"] != first
    me = await gateway.client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {new['access_token']}"})
    assert me.json()["email"] == ADMIN_EMAIL

    reused = await _refresh(gateway, first)
    assert reused.status_code == 401
    assert reused.json()["code"] == "invalid_refresh_token"
    # The family is gone: the legitimate successor stops working too.
    assert (await _refresh(gateway, new["refresh_token"])).status_code == 401


async def test_other_sessions_survive_a_reuse(gateway):
    stolen = (await _sign_in(gateway)).json()["refresh_token"]
    other = (await _sign_in(gateway)).json()["refresh_token"]
    await _refresh(gateway, stolen)
    await _refresh(gateway, stolen)

    assert (await _refresh(gateway, other)).status_code == 200


async def test_logout_revokes_and_unknown_or_expired_tokens_are_401(gateway):
    token = (await _sign_in(gateway)).json()["refresh_token"]
    out = await gateway.client.post("/api/v1/auth/logout", json={"refresh_token": token})
    assert out.status_code == 204
    assert (await _refresh(gateway, token)).status_code == 401
    assert (await _refresh(gateway, "made-up")).status_code == 401

    expiring = (await _sign_in(gateway)).json()["refresh_token"]
    async with gateway.app.state.sessionmaker.begin() as session:
        await session.execute(update(RefreshToken).values(expires_at=utcnow() - timedelta(seconds=1)))
    assert (await _refresh(gateway, expiring)).status_code == 401


async def test_account_locks_after_repeated_failures_even_for_the_right_password(open_gateway):
    async with open_gateway(login_max_failures_per_account=3, login_lockout_seconds=600) as gateway:
        email = await gateway.add_user()
        statuses = [(await _sign_in(gateway, email, "wrong-password")).status_code for _ in range(3)]
        locked = await _sign_in(gateway, email, "pass-word-123")

    assert statuses == [401, 401, 401]
    assert locked.status_code == 429
    assert locked.json()["code"] == "login_locked"
    assert 590 <= int(locked.headers["retry-after"]) <= 600


async def test_unknown_and_known_accounts_lock_alike(open_gateway):
    async with open_gateway(login_max_failures_per_account=2) as gateway:
        known = await gateway.add_user()
        unknown = f"nobody-{uuid.uuid4().hex[:8]}@crm.test"
        answers = {}
        for email in (known, unknown):
            replies = [await _sign_in(gateway, email, "wrong-password") for _ in range(3)]
            answers[email] = [(r.status_code, r.json()["code"], r.json()["detail"]) for r in replies]

    assert answers[known] == answers[unknown]
    assert [status for status, _, _ in answers[known]] == [401, 401, 429]


async def test_an_address_locks_across_accounts_only_behind_a_trusted_proxy(open_gateway):
    address = f"198.51.100.{uuid.uuid4().int % 250 + 1}"
    async with open_gateway(login_max_failures_per_address=3, trusted_proxies=["203.0.113.0/24"]) as gateway:
        for _ in range(3):
            await _sign_in(gateway, f"spray-{uuid.uuid4().hex[:8]}@crm.test", "Winter2026!", address)
        from_there = await _sign_in(gateway, address=address)
        elsewhere = await _sign_in(gateway, address="198.51.100.254, 203.0.113.9")

    assert from_there.status_code == 429
    assert elsewhere.status_code == 200
