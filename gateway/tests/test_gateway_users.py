"""Admins manage accounts: roles, teams, passwords, disabling; managers' teams reach the services."""

from __future__ import annotations

import uuid

import pytest

from crm_gateway.users.models import Role

STRONG = "plum-orchard-1987"


def _email() -> str:
    return f"u-{uuid.uuid4().hex[:10]}@crm.test"


async def _create(gateway, headers, **fields):
    body = {"email": _email(), "password": STRONG, "role": "agent", "name": "Li Na"} | fields
    return await gateway.client.post("/api/v1/users", headers=headers, json=body)


async def test_admin_creates_a_user_who_can_then_sign_in(gateway, admin_headers):
    response = await _create(gateway, admin_headers, role="analyst")

    assert response.status_code == 201, response.text
    user = response.json()
    assert response.headers["location"] == f"/api/v1/users/{user['id']}"
    assert response.headers["etag"] == '"1"'
    assert user["role"] == "analyst" and user["is_active"] is True and user["manager_id"] is None
    assert "password" not in user and "password_hash" not in user
    await gateway.login(user["email"], STRONG)


@pytest.mark.parametrize(
    "password",
    ["short-1", "password1234", "aaaaaaaaaaaaaaaa", "ababababababab12", "x" * 300],
    ids=["too-short", "common", "one-character", "four-characters", "too-long"],
)
async def test_weak_passwords_are_422(gateway, admin_headers, password):
    response = await _create(gateway, admin_headers, password=password)

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] in {"password", "body.password"}


@pytest.mark.parametrize("password", ["woaini1314520", "1234567890ab", "qwertyuiop123"])
async def test_passwords_people_really_use_are_422_with_a_reason(gateway, admin_headers, password):
    response = await _create(gateway, admin_headers, password=password)

    assert response.status_code == 422, response.text
    error = response.json()["errors"][0]
    assert error["code"] == "weak_password"
    assert "too easy to guess" in error["message"] and "at least 3 needed" in error["message"]


async def test_the_minimum_strength_is_a_setting(gateway, admin_headers):
    settings = gateway.app.state.settings
    before = settings.password_min_score
    settings.password_min_score = 1
    try:
        response = await _create(gateway, admin_headers, password="woaini1314520")
    finally:
        settings.password_min_score = before

    assert response.status_code == 201, response.text


async def test_password_containing_the_email_is_422(gateway, admin_headers):
    response = await _create(gateway, admin_headers, email="zhangwei@crm.test", password="zhangwei-2026-!")

    assert response.json()["errors"][0]["code"] == "weak_password"


async def test_duplicate_email_and_unknown_fields(gateway, admin_headers):
    first = await _create(gateway, admin_headers)

    again = await _create(gateway, admin_headers, email=first.json()["email"].upper())
    extra = await _create(gateway, admin_headers, is_admin=True)

    assert again.status_code == 409
    assert extra.status_code == 422


async def test_only_agents_report_and_only_to_an_active_manager(gateway, admin_headers):
    manager = (await _create(gateway, admin_headers, role="manager")).json()
    analyst = (await _create(gateway, admin_headers, role="analyst")).json()

    agent = await _create(gateway, admin_headers, manager_id=manager["id"])
    to_analyst = await _create(gateway, admin_headers, manager_id=analyst["id"])
    as_manager = await _create(gateway, admin_headers, role="manager", manager_id=manager["id"])

    assert agent.status_code == 201 and agent.json()["manager_id"] == manager["id"]
    assert to_analyst.status_code == 422
    assert as_manager.status_code == 422
    listed = await gateway.client.get(f"/api/v1/users?manager_id={manager['id']}", headers=admin_headers)
    assert [u["id"] for u in listed.json()["items"]] == [agent.json()["id"]]


async def test_patch_needs_if_match_and_changes_role(gateway, admin_headers):
    user = (await _create(gateway, admin_headers)).json()
    url = f"/api/v1/users/{user['id']}"

    missing = await gateway.client.patch(url, headers=admin_headers, json={"role": "manager"})
    stale = await gateway.client.patch(url, headers=admin_headers | {"If-Match": '"9"'}, json={"role": "manager"})
    nulled = await gateway.client.patch(url, headers=admin_headers | {"If-Match": '"1"'}, json={"role": None})
    done = await gateway.client.patch(url, headers=admin_headers | {"If-Match": '"1"'}, json={"role": "manager"})

    assert (missing.status_code, stale.status_code, nulled.status_code) == (428, 412, 422)
    assert done.status_code == 200 and done.json()["role"] == "manager"
    assert done.headers["etag"] == '"2"'
    read = await gateway.client.get(url, headers=admin_headers | {"If-None-Match": '"2"'})
    assert read.status_code == 304


async def test_disabling_ends_sessions_and_refresh_tokens(gateway, admin_headers):
    user = (await _create(gateway, admin_headers)).json()
    tokens = (
        await gateway.client.post("/api/v1/auth/token", data={"username": user["email"], "password": STRONG})
    ).json()

    disabled = await gateway.client.delete(f"/api/v1/users/{user['id']}", headers=admin_headers)

    assert disabled.status_code == 204
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert (await gateway.client.get("/api/v1/customers", headers=bearer)).status_code == 401
    refreshed = await gateway.client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert refreshed.status_code == 401
    shown = await gateway.client.get(f"/api/v1/users/{user['id']}", headers=admin_headers)
    assert shown.json()["is_active"] is False


async def test_the_admins_cannot_lock_themselves_out(gateway, admin_headers):
    me = (await gateway.client.get("/api/v1/auth/me", headers=admin_headers)).json()

    response = await gateway.client.delete(f"/api/v1/users/{me['id']}", headers=admin_headers)

    assert response.status_code == 409
    assert (await gateway.client.get("/api/v1/auth/me", headers=admin_headers)).status_code == 200


async def test_a_manager_forwards_their_current_team(gateway, admin_headers):
    manager_id, headers = await gateway.signed_in(Role.manager)
    agents = [(await _create(gateway, admin_headers, manager_id=manager_id)).json() for _ in range(2)]
    await _create(gateway, admin_headers)  # someone else's agent
    await gateway.client.delete(f"/api/v1/users/{agents[1]['id']}", headers=admin_headers)

    await gateway.client.get("/api/v1/customers/probe", headers=headers)

    principal = gateway.principal_seen("customer")
    assert (principal.subject, principal.role, principal.kind) == (manager_id, "manager", "user")
    assert principal.team == frozenset({agents[0]["id"]})
    assert principal.name.endswith("@crm.test")


async def test_an_agent_forwards_no_team(gateway):
    agent_id, headers = await gateway.signed_in(Role.agent)

    await gateway.client.get("/api/v1/customers/probe", headers=headers)

    principal = gateway.principal_seen("customer")
    assert (principal.subject, principal.role, principal.team) == (agent_id, "agent", frozenset())


@pytest.mark.parametrize("role", list(Role))
async def test_any_signed_in_person_looks_up_names_by_id(gateway, admin_headers, role):
    one = (await _create(gateway, admin_headers, name="王芳")).json()
    two = (await _create(gateway, admin_headers, name="Li Lei", role="manager")).json()
    _, headers = await gateway.signed_in(role)
    unknown = str(uuid.uuid4())

    comma = await gateway.client.get("/api/v1/users/lookup", headers=headers, params={"ids": f"{one['id']},{unknown}"})
    repeated = await gateway.client.get(
        "/api/v1/users/lookup", headers=headers, params=[("ids", one["id"]), ("ids", two["id"])]
    )

    assert comma.status_code == 200, comma.text
    assert comma.json() == {"items": [{"id": one["id"], "name": "王芳"}], "next_cursor": None}
    assert sorted(item["name"] for item in repeated.json()["items"]) == ["Li Lei", "王芳"]


async def test_a_lookup_refuses_bad_ids_and_partner_keys(gateway):
    _, headers = await gateway.signed_in(Role.agent)
    _, secret = await gateway.add_key({"customers:read"})

    bad = await gateway.client.get("/api/v1/users/lookup", headers=headers, params={"ids": "not-a-uuid"})
    missing = await gateway.client.get("/api/v1/users/lookup", headers=headers)
    partner = await gateway.client.get(
        "/api/v1/users/lookup", headers={"X-API-Key": secret}, params={"ids": str(uuid.uuid4())}
    )

    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "query.ids"
    assert missing.status_code == 422 and missing.json()["errors"][0]["field"] == "query.ids"
    assert partner.status_code == 403


async def test_the_gateways_own_lists_count_on_request(gateway, admin_headers):
    for _ in range(2):
        await _create(gateway, admin_headers)
    counted = (
        await gateway.client.get("/api/v1/users", headers=admin_headers, params={"limit": 1, "include_total": "true"})
    ).json()
    everyone = (await gateway.client.get("/api/v1/users", headers=admin_headers, params={"limit": 200})).json()

    assert len(counted["items"]) == 1 and counted["total"] == len(everyone["items"]) >= 3
    assert "total" not in everyone
