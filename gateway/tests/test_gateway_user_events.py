"""User accounts reach the services as events: the gateway's outbox and its internal feed."""

from __future__ import annotations

import uuid

from crm_chassis.identity import Principal, sign_internal_token

from .conftest import ADMIN_EMAIL, INTERNAL_SECRET

STRONG = "plum-orchard-1987"


def _service_headers(kind: str = "service") -> dict[str, str]:
    principal = Principal.service("customer") if kind == "service" else Principal("someone", "user", role="admin")
    return {"X-Internal-Token": sign_internal_token(principal, INTERNAL_SECRET)}


async def _events_of(gateway, user_id: str) -> list[dict]:
    items: list[dict] = []
    after = 0
    while True:
        page = await gateway.client.get(
            "/internal/events", params={"after": after, "limit": 1000}, headers=_service_headers()
        )
        assert page.status_code == 200, page.text
        batch = page.json()["items"]
        if not batch:
            return [e for e in items if e["aggregate_id"] == user_id]
        items += batch
        after = batch[-1]["seq"]


async def test_create_change_and_disable_publish_user_events(gateway, admin_headers):
    manager = await gateway.client.post(
        "/api/v1/users",
        headers=admin_headers,
        json={"email": f"m-{uuid.uuid4().hex[:8]}@crm.test", "password": STRONG, "role": "manager", "name": "Wang"},
    )
    agent = await gateway.client.post(
        "/api/v1/users",
        headers=admin_headers,
        json={"email": f"a-{uuid.uuid4().hex[:8]}@crm.test", "password": STRONG, "role": "agent", "name": "Li Na"},
    )
    manager_id, agent_id = manager.json()["id"], agent.json()["id"]
    url = f"/api/v1/users/{agent_id}"
    joined = await gateway.client.patch(
        url, headers={**admin_headers, "If-Match": '"1"'}, json={"manager_id": manager_id, "name": "Li Na (East)"}
    )
    assert joined.status_code == 200, joined.text
    unchanged = await gateway.client.patch(url, headers={**admin_headers, "If-Match": '"2"'}, json={"role": "agent"})
    assert unchanged.status_code == 200
    disabled = await gateway.client.delete(url, headers=admin_headers)
    assert disabled.status_code == 204

    events = await _events_of(gateway, agent_id)

    assert [(e["type"], e["version"]) for e in events] == [
        ("user.created", 1),
        ("user.updated", 2),
        ("user.disabled", 4),
    ]
    created, updated, gone = (e["data"] for e in events)
    assert created == {"id": agent_id, "role": "agent", "name": "Li Na", "team": None, "active": True}
    assert updated == {
        "id": agent_id,
        "role": "agent",
        "name": "Li Na (East)",
        "team": manager_id,
        "active": True,
        "changed": ["name", "team"],
    }
    assert (gone["active"], gone["team"], gone["changed"]) == (False, manager_id, ["active"])
    assert "email" not in created
    (manager_created,) = await _events_of(gateway, manager_id)
    assert manager_created["data"]["team"] == manager_id  # a manager's team is named by the manager


async def test_the_bootstrap_admin_is_announced(gateway, admin_headers):
    me = (await gateway.client.get("/api/v1/auth/me", headers=admin_headers)).json()
    assert me["email"] == ADMIN_EMAIL

    (created,) = await _events_of(gateway, me["id"])

    assert created["type"] == "user.created"
    assert created["data"] == {"id": me["id"], "role": "admin", "name": "Administrator", "team": None, "active": True}


async def test_the_feed_answers_services_only(gateway, admin_headers):
    anonymous = await gateway.client.get("/internal/events")
    as_user = await gateway.client.get("/internal/events", headers=_service_headers("user"))
    forged = await gateway.client.get("/internal/events", headers={"X-Internal-Token": "not-a-token"})
    bearer = await gateway.client.get("/internal/events", headers=admin_headers)

    assert [r.status_code for r in (anonymous, as_user, forged, bearer)] == [401, 403, 401, 401]
    assert all(r.headers["content-type"].startswith("application/problem+json") for r in (anonymous, as_user))


async def test_a_failed_change_publishes_nothing(gateway, admin_headers):
    agent = await gateway.client.post(
        "/api/v1/users",
        headers=admin_headers,
        json={"email": f"a-{uuid.uuid4().hex[:8]}@crm.test", "password": STRONG, "role": "agent", "name": "Zhao"},
    )
    agent_id = agent.json()["id"]
    refused = await gateway.client.patch(
        f"/api/v1/users/{agent_id}", headers={**admin_headers, "If-Match": '"1"'}, json={"manager_id": agent_id}
    )
    assert refused.status_code == 422

    assert [e["type"] for e in await _events_of(gateway, agent_id)] == ["user.created"]
