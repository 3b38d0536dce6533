"""Partner API keys: shown once, stored hashed, scoped, expiring, revocable."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from crm_gateway.api_keys.models import ApiKey


async def test_admin_issues_a_key_whose_secret_is_shown_once_and_stored_hashed(gateway, admin_headers):
    response = await gateway.client.post(
        "/api/v1/api-keys", headers=admin_headers, json={"name": "shop", "scopes": ["orders:write", "customers:read"]}
    )

    assert response.status_code == 201, response.text
    created = response.json()
    key = created["key"]
    assert key.startswith(f"crm_{created['prefix']}_") and len(key) > 50
    assert created["scopes"] == ["customers:read", "orders:write"]
    read = (await gateway.client.get(f"/api/v1/api-keys/{created['id']}", headers=admin_headers)).json()
    assert "key" not in read and read["prefix"] == created["prefix"]
    async with gateway.app.state.sessionmaker() as session:
        stored = (await session.execute(select(ApiKey).where(ApiKey.prefix == created["prefix"]))).scalar_one()
    assert stored.key_hash == hashlib.sha256(key.encode()).hexdigest()
    assert key not in repr(stored.__dict__)


async def test_unknown_scope_and_past_expiry_are_422(gateway, admin_headers):
    for body in (
        {"name": "x", "scopes": ["customers:delete"]},
        {"name": "x", "scopes": []},
        {"name": "x", "scopes": ["scores:read"], "expires_at": "2020-01-01T00:00:00Z"},
    ):
        response = await gateway.client.post("/api/v1/api-keys", headers=admin_headers, json=body)
        assert response.status_code == 422, body


async def test_a_key_calls_as_itself_and_records_its_use(gateway):
    key_id, secret = await gateway.add_key({"customers:read", "customers:pii"})

    response = await gateway.client.get("/api/v1/customers/probe", headers={"X-API-Key": secret})

    assert response.status_code == 200
    seen = gateway.seen("customer")[-1]["headers"]
    assert "x-api-key" not in seen
    principal = gateway.principal_seen("customer")
    assert (principal.kind, principal.subject, principal.role) == ("api_key", key_id, None)
    assert principal.scopes == frozenset({"customers:read", "customers:pii"})
    async with gateway.app.state.sessionmaker() as session:
        assert (await session.get(ApiKey, __import__("uuid").UUID(key_id))).last_used_at is not None


async def test_revoked_expired_and_forged_keys_are_401(gateway, admin_headers):
    key_id, revoked = await gateway.add_key({"customers:read"})
    await gateway.client.delete(f"/api/v1/api-keys/{key_id}", headers=admin_headers)
    _, expiring = await gateway.add_key({"customers:read"}, expires_at=datetime.now(UTC) + timedelta(seconds=1))
    async with gateway.app.state.sessionmaker.begin() as session:
        key = (await session.execute(select(ApiKey).where(ApiKey.prefix == expiring.split("_")[1]))).scalar_one()
        key.expires_at = datetime.now(UTC) - timedelta(seconds=1)
    _, good = await gateway.add_key({"customers:read"})
    forged = good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB")

    for secret in (revoked, expiring, forged, "crm_00000000_nothing", "not-a-key"):
        response = await gateway.client.get("/api/v1/customers", headers={"X-API-Key": secret})
        assert response.status_code == 401, secret
        assert response.json()["code"] == "invalid_api_key"
        assert "ApiKey" in response.headers["www-authenticate"]
    assert (await gateway.client.get("/api/v1/customers", headers={"X-API-Key": good})).status_code == 200


async def test_keys_cannot_manage_keys(gateway):
    _, secret = await gateway.add_key(set(__import__("crm_gateway.auth.permissions").auth.permissions.SCOPES))

    response = await gateway.client.post("/api/v1/api-keys", headers={"X-API-Key": secret}, json={})

    assert response.status_code == 403
