"""Disabling a user who still owns customers: refused with the count, or their customers handed over first."""

from __future__ import annotations

import uuid

import httpx

from crm_chassis.identity import verify_internal_token
from crm_gateway.users.models import Role

from .conftest import INTERNAL_SECRET


async def _agent(gateway) -> tuple[str, str]:
    email = await gateway.add_user(role=Role.agent)
    headers = await gateway.login(email, "pass-word-123")
    return str((await gateway.client.get("/api/v1/auth/me", headers=headers)).json()["id"]), email


async def _active(gateway, admin_headers, user_id: str) -> bool:
    return bool((await gateway.client.get(f"/api/v1/users/{user_id}", headers=admin_headers)).json()["is_active"])


async def test_a_user_without_customers_is_disabled_at_once(gateway, admin_headers):
    user_id, _ = await _agent(gateway)

    assert (await gateway.client.delete(f"/api/v1/users/{user_id}", headers=admin_headers)).status_code == 204
    assert not await _active(gateway, admin_headers, user_id)
    assert gateway.upstreams["customer"].state.handovers == []


async def test_a_user_who_owns_customers_is_not_disabled_without_a_successor(gateway, admin_headers):
    user_id, email = await _agent(gateway)
    gateway.upstreams["customer"].state.owned[user_id] = 3

    deleted = await gateway.client.delete(f"/api/v1/users/{user_id}", headers=admin_headers)
    patched = await gateway.client.patch(
        f"/api/v1/users/{user_id}", headers={**admin_headers, "If-Match": '"1"'}, json={"is_active": False}
    )

    for refused in (deleted, patched):
        assert refused.status_code == 409, refused.text
        assert (refused.json()["code"], refused.json()["customers"]) == ("user_owns_customers", 3)
        assert refused.headers["content-type"].startswith("application/problem+json")
    assert await _active(gateway, admin_headers, user_id)
    await gateway.login(email, "pass-word-123")  # their sessions still work


async def test_with_reassign_to_the_hand_over_runs_first(gateway, admin_headers):
    leaving, _ = await _agent(gateway)
    successor, _ = await _agent(gateway)
    customer = gateway.upstreams["customer"]
    customer.state.owned[leaving] = 4

    response = await gateway.client.delete(
        f"/api/v1/users/{leaving}",
        headers=admin_headers,
        params={"reassign_to": successor, "reason": "moved to the Shanghai office"},
    )

    assert response.status_code == 204, response.text
    assert not await _active(gateway, admin_headers, leaving)
    assert customer.state.owned == {successor: 4}
    (handover,) = customer.state.handovers
    assert handover["body"] == {
        "from_owner_id": leaving,
        "to_owner_id": successor,
        "reason": "moved to the Shanghai office",
    }
    me = (await gateway.client.get("/api/v1/auth/me", headers=admin_headers)).json()
    signed = verify_internal_token(handover["headers"]["x-internal-token"], INTERNAL_SECRET)
    assert (signed.subject, signed.role) == (me["id"], "admin")  # the owner history names the admin


async def test_patch_hands_over_too_with_a_default_reason(gateway, admin_headers):
    leaving, _ = await _agent(gateway)
    successor, _ = await _agent(gateway)
    customer = gateway.upstreams["customer"]
    customer.state.owned[leaving] = 1

    response = await gateway.client.patch(
        f"/api/v1/users/{leaving}",
        headers={**admin_headers, "If-Match": '"1"'},
        params={"reassign_to": successor},
        json={"is_active": False},
    )

    assert response.status_code == 200, response.text
    assert response.json()["is_active"] is False
    assert customer.state.handovers[0]["body"]["reason"] == "the account manager's account was disabled"


async def test_a_refused_or_failed_hand_over_leaves_the_user_active(gateway, admin_headers):
    leaving, _ = await _agent(gateway)
    customer = gateway.upstreams["customer"]
    customer.state.owned[leaving] = 2
    bad = str(uuid.uuid4())
    customer.state.invalid_owners.add(bad)
    url = f"/api/v1/users/{leaving}"

    invalid = await gateway.client.delete(url, headers=admin_headers, params={"reassign_to": bad})
    itself = await gateway.client.delete(url, headers=admin_headers, params={"reassign_to": leaving})
    not_uuid = await gateway.client.delete(url, headers=admin_headers, params={"reassign_to": "someone"})
    customer.state.failing_handovers = True
    failed = await gateway.client.delete(url, headers=admin_headers, params={"reassign_to": str(uuid.uuid4())})

    assert (invalid.status_code, invalid.json()["code"], invalid.json()["errors"][0]["field"]) == (
        422,
        "validation_failed",
        "query.reassign_to",
    )
    assert invalid.json()["errors"][0]["code"] == "invalid_owner"
    assert (itself.status_code, itself.json()["errors"][0]["code"]) == (422, "same_owner")
    assert not_uuid.status_code == 422
    assert (failed.status_code, failed.json()["code"]) == (502, "handover_failed")
    assert failed.json()["job"].startswith("/api/v1/customers/reassign/")
    assert await _active(gateway, admin_headers, leaving)
    assert customer.state.owned == {leaving: 2}


async def test_the_customer_service_down_leaves_the_user_active(open_gateway):
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    async with open_gateway(transports={"customer": httpx.MockTransport(refuse)}) as gateway:
        admin = await gateway.login()
        user_id, _ = await _agent(gateway)

        response = await gateway.client.delete(f"/api/v1/users/{user_id}", headers=admin)

        assert (response.status_code, response.json()["code"]) == (502, "upstream_unavailable")
        assert await _active(gateway, admin, user_id)


async def test_an_unknown_or_already_disabled_user(gateway, admin_headers):
    assert (await gateway.client.delete(f"/api/v1/users/{uuid.uuid4()}", headers=admin_headers)).status_code == 404
    user_id, _ = await _agent(gateway)
    assert (await gateway.client.delete(f"/api/v1/users/{user_id}", headers=admin_headers)).status_code == 204
    gateway.upstreams["customer"].state.owned[user_id] = 5  # legacy customers of a disabled user
    again = await gateway.client.delete(f"/api/v1/users/{user_id}", headers=admin_headers)
    assert again.status_code == 204  # nothing to disable: no hand-over asked for
