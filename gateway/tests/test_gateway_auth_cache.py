"""The bearer check is remembered for at most CRM_GATEWAY_AUTH_CACHE_SECONDS (≤ 1 s).

A change made through another process (another replica, an operator's SQL) is seen once the
remembered answer is that old: the tests move a fake clock instead of waiting. A change made
through this process is seen at once.
"""

from __future__ import annotations

import uuid

from sqlalchemy import event, update

from crm_gateway.users.models import Role, UserAccount


class FakeClock:
    def __init__(self) -> None:
        self.now = 500.0

    def __call__(self) -> float:
        return self.now


def _count_user_reads(gateway) -> list[str]:  # type: ignore[no-untyped-def]
    statements: list[str] = []

    def seen(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        if "user_account" in statement:
            statements.append(statement)

    engine = gateway.app.state.read_sessionmaker.kw["bind"].sync_engine
    event.listen(engine, "before_cursor_execute", seen)
    return statements


async def _disable_elsewhere(gateway, user_id: str) -> None:  # type: ignore[no-untyped-def]
    """As another replica would: a write that does not pass through this process's sessions."""
    async with gateway.app.state.engine.begin() as connection:
        await connection.execute(
            update(UserAccount.__table__)
            .where(UserAccount.__table__.c.id == uuid.UUID(user_id))
            .values(is_active=False)
        )


async def test_a_user_disabled_elsewhere_is_refused_once_the_remembered_answer_is_a_second_old(open_gateway):
    async with open_gateway(auth_cache_seconds=1.0) as gateway:
        clock = gateway.app.state.auth_cache.clock = FakeClock()
        user_id, headers = await gateway.signed_in(Role.agent)
        assert (await gateway.client.get("/api/v1/customers", headers=headers)).status_code == 200

        await _disable_elsewhere(gateway, user_id)
        clock.now += 0.9
        within = await gateway.client.get("/api/v1/customers", headers=headers)
        clock.now += 0.1
        after = await gateway.client.get("/api/v1/customers", headers=headers)

    assert within.status_code == 200  # the remembered answer, younger than a second
    assert after.status_code == 401
    assert after.json()["code"] == "account_disabled"


async def test_the_check_reads_the_database_once_per_second_not_per_request(open_gateway):
    async with open_gateway(auth_cache_seconds=1.0) as gateway:
        clock = gateway.app.state.auth_cache.clock = FakeClock()
        _, headers = await gateway.signed_in(Role.agent)
        reads = _count_user_reads(gateway)
        clock.now += 1.0  # past what signing in remembered
        for _ in range(5):
            assert (await gateway.client.get("/api/v1/customers", headers=headers)).status_code == 200
        in_the_first_second = len(reads)
        clock.now += 1.0
        assert (await gateway.client.get("/api/v1/customers", headers=headers)).status_code == 200

    assert in_the_first_second == 1
    assert len(reads) == 2


async def test_without_the_cache_every_request_reads_the_user(open_gateway):
    async with open_gateway(auth_cache_seconds=0) as gateway:
        _, headers = await gateway.signed_in(Role.agent)
        reads = _count_user_reads(gateway)
        for _ in range(3):
            assert (await gateway.client.get("/api/v1/customers", headers=headers)).status_code == 200

    assert len(reads) == 3


async def test_disabling_through_this_gateway_takes_effect_at_once(open_gateway):
    async with open_gateway(auth_cache_seconds=1.0) as gateway:
        gateway.app.state.auth_cache.clock = FakeClock()  # time stands still
        admin = await gateway.login()
        user_id, headers = await gateway.signed_in(Role.agent)
        assert (await gateway.client.get("/api/v1/customers", headers=headers)).status_code == 200

        disabled = await gateway.client.delete(f"/api/v1/users/{user_id}", headers=admin)
        refused = await gateway.client.get("/api/v1/customers", headers=headers)

    assert disabled.status_code in {200, 204}, disabled.text
    assert refused.status_code == 401


async def test_logout_through_this_gateway_takes_effect_at_once(open_gateway):
    async with open_gateway(auth_cache_seconds=1.0) as gateway:
        gateway.app.state.auth_cache.clock = FakeClock()
        email = await gateway.add_user()
        signed = await gateway.client.post("/api/v1/auth/token", data={"username": email, "password": "pass-word-123"})
        tokens = signed.json()
        headers = {"Authorization": f"Bearer {tokens['access_token']}"}
        assert (await gateway.client.get("/api/v1/customers", headers=headers)).status_code == 200

        out = await gateway.client.post("/api/v1/auth/logout", json={"refresh_token": tokens["refresh_token"]})
        refused = await gateway.client.get("/api/v1/customers", headers=headers)

    assert out.status_code == 204
    assert refused.status_code == 401 and refused.json()["code"] == "token_revoked"
