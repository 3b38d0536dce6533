"""Logout stops access tokens at once: every token of the session, and the one presented."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import event, select

from crm_chassis.db import utcnow
from crm_gateway.auth import security
from crm_gateway.auth.models import RefreshToken, RevokedToken

from .conftest import ADMIN_EMAIL, ADMIN_PASSWORD

PROBLEM = "application/problem+json"


async def _sign_in(gateway, email=ADMIN_EMAIL, password=ADMIN_PASSWORD) -> dict:
    response = await gateway.client.post("/api/v1/auth/token", data={"username": email, "password": password})
    assert response.status_code == 200, response.text
    tokens: dict = response.json()
    return tokens


def _bearer(access_token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {access_token}"}


async def _logout(gateway, refresh_token: str, headers: dict[str, str] | None = None) -> None:
    response = await gateway.client.post(
        "/api/v1/auth/logout", json={"refresh_token": refresh_token}, headers=headers or {}
    )
    assert response.status_code == 204, response.text


async def _assert_revoked(gateway, access_token: str) -> None:
    before = len(gateway.seen("customer"))
    for path in ("/api/v1/auth/me", "/api/v1/customers"):
        response = await gateway.client.get(path, headers=_bearer(access_token))
        assert response.status_code == 401, (path, response.text)
        assert response.headers["content-type"] == PROBLEM
        assert response.json()["code"] == "token_revoked"
        assert response.headers["www-authenticate"] == 'Bearer realm="crm", error="invalid_token"'
    assert len(gateway.seen("customer")) == before


async def test_access_tokens_carry_a_jti_and_their_session(gateway):
    tokens = [await _sign_in(gateway) for _ in range(2)]
    secret = gateway.app.state.settings.jwt_secret.get_secret_value()

    claims = [security.decode_access_token(t["access_token"], secret) for t in tokens]

    assert claims[0]["jti"] != claims[1]["jti"]
    async with gateway.app.state.sessionmaker() as session:
        for token, claim in zip(tokens, claims, strict=True):
            stored = await session.scalar(
                select(RefreshToken).where(RefreshToken.token_hash == security.digest(token["refresh_token"]))
            )
            assert stored is not None and claim["sid"] == str(stored.family_id)


async def test_logout_stops_every_access_token_of_the_session_at_once(gateway):
    first = await _sign_in(gateway)
    refreshed = await gateway.client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    second = refreshed.json()
    other_session = await _sign_in(gateway)
    for tokens in (first, second, other_session):
        assert (await gateway.client.get("/api/v1/auth/me", headers=_bearer(tokens["access_token"]))).status_code == 200

    # The refresh token alone, as a client that forgot its access token would send it.
    await _logout(gateway, second["refresh_token"])

    await _assert_revoked(gateway, first["access_token"])
    await _assert_revoked(gateway, second["access_token"])
    still = await gateway.client.get("/api/v1/customers", headers=_bearer(other_session["access_token"]))
    assert still.status_code == 200


async def test_logout_stops_the_access_token_presented_whatever_the_refresh_token(gateway):
    tokens = await _sign_in(gateway)
    user_id = (await gateway.client.get("/api/v1/auth/me", headers=_bearer(tokens["access_token"]))).json()["id"]
    # A token from before sessions were named in tokens: revocable by its own id only.
    secret = gateway.app.state.settings.jwt_secret.get_secret_value()
    sessionless = security.issue_access_token(user_id, secret, 900, role="admin").access_token
    assert (await gateway.client.get("/api/v1/auth/me", headers=_bearer(sessionless))).status_code == 200

    await _logout(gateway, "not-a-refresh-token", _bearer(sessionless))

    await _assert_revoked(gateway, sessionless)
    assert (await gateway.client.get("/api/v1/auth/me", headers=_bearer(tokens["access_token"]))).status_code == 200


async def test_logout_with_a_bad_access_token_still_ends_the_session(gateway):
    tokens = await _sign_in(gateway)

    await _logout(gateway, tokens["refresh_token"], {"Authorization": "Bearer garbage"})

    await _assert_revoked(gateway, tokens["access_token"])
    await _logout(gateway, tokens["refresh_token"], _bearer(tokens["access_token"]))  # twice is fine


async def test_a_reused_refresh_token_stops_the_sessions_access_tokens(gateway):
    stolen = await _sign_in(gateway)
    successor = (
        await gateway.client.post("/api/v1/auth/refresh", json={"refresh_token": stolen["refresh_token"]})
    ).json()

    reused = await gateway.client.post("/api/v1/auth/refresh", json={"refresh_token": stolen["refresh_token"]})

    assert reused.status_code == 401
    await _assert_revoked(gateway, stolen["access_token"])
    await _assert_revoked(gateway, successor["access_token"])


async def test_revocations_last_as_long_as_the_tokens_and_expired_ones_are_pruned(gateway):
    tokens = await _sign_in(gateway)
    secret = gateway.app.state.settings.jwt_secret.get_secret_value()
    claims = security.decode_access_token(tokens["access_token"], secret)
    stale = f"jti:{uuid.uuid4().hex}"
    async with gateway.app.state.sessionmaker.begin() as session:
        session.add(RevokedToken(token_id=stale, expires_at=utcnow() - timedelta(seconds=1)))

    await _logout(gateway, tokens["refresh_token"], _bearer(tokens["access_token"]))

    async with gateway.app.state.sessionmaker() as session:
        rows = {r.token_id: r for r in (await session.scalars(select(RevokedToken))).all()}
    assert stale not in rows
    assert all(row.expires_at > utcnow() for row in rows.values())
    by_token, by_session = rows[f"jti:{claims['jti']}"], rows[f"sid:{claims['sid']}"]
    expiry = datetime.fromtimestamp(claims["exp"], UTC)
    assert expiry <= by_token.expires_at <= expiry + timedelta(seconds=10)
    assert expiry <= by_session.expires_at <= expiry + timedelta(seconds=30)
    assert str(by_session.user_id) == str(by_token.user_id) == claims["sub"]


async def test_the_revocation_check_rides_on_the_user_lookup(gateway, admin_headers):
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    engines = {gateway.app.state.engine.sync_engine, gateway.app.state.read_sessionmaker.kw["bind"].sync_engine}
    for engine in engines:
        event.listen(engine, "before_cursor_execute", record)
    try:
        assert (await gateway.client.get("/api/v1/auth/me", headers=admin_headers)).status_code == 200
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", record)

    reads = [s for s in statements if "revoked_token" in s or "user_account" in s]
    assert len(reads) == 1, reads
    assert "revoked_token" in reads[0] and "user_account" in reads[0]
