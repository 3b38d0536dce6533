"""Object- and field-level access in the customer service: no one sees what is not theirs.

Two agents each try every read and write on the other's customer and its records; every
attempt must look exactly like a customer that does not exist, and change nothing.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from crm_chassis.testing import internal_headers

AGENT_A, AGENT_B, MANAGER = (str(uuid.uuid4()) for _ in range(3))
WHEN = "2026-03-01T10:00:00Z"


def as_agent(agent: str) -> dict[str, str]:
    return internal_headers(subject=agent, role="agent")


async def seed(client: httpx.AsyncClient, owner: str) -> dict[str, str]:
    """A customer of `owner` with one record of each kind, created by an admin."""
    person = (
        await client.post("/customers", json={"kind": "individual", "name": f"of {owner[:4]}", "owner_id": owner})
    ).json()
    org = (await client.post("/customers", json={"kind": "organization", "name": "Org", "owner_id": owner})).json()
    order = (
        await client.post(
            "/orders", json={"customer_id": person["id"], "occurred_at": WHEN, "amount": "10", "currency": "CNY"}
        )
    ).json()
    body = {"occurred_at": WHEN, "channel": "phone", "direction": "inbound", "summary": "s"}
    interaction = (await client.post(f"/customers/{person['id']}/interactions", json=body)).json()
    contact = (
        await client.post(f"/customers/{org['id']}/contacts", json={"name": "Boss", "roles": ["senior_leader"]})
    ).json()
    return {
        "customer": person["id"],
        "org": org["id"],
        "order": order["id"],
        "interaction": interaction["id"],
        "contact": contact["id"],
    }


def attempts(ids: dict[str, str]) -> list[tuple[str, str, dict[str, Any] | None]]:
    c, o = ids["customer"], ids["org"]
    return [
        ("GET", f"/customers/{c}", None),
        ("PATCH", f"/customers/{c}", {"name": "stolen"}),
        ("DELETE", f"/customers/{c}", None),
        ("GET", f"/customers/{c}/history", None),
        ("GET", f"/customers/{c}/owner-history", None),
        ("POST", f"/customers/{c}/owner", {"owner_id": None}),
        ("GET", f"/customers/{c}/referrals", None),
        ("GET", f"/customers/{c}/orders", None),
        ("GET", f"/customers/{c}/interactions", None),
        (
            "POST",
            f"/customers/{c}/interactions",
            {"occurred_at": WHEN, "channel": "sms", "direction": "outbound", "summary": "x"},
        ),
        ("GET", f"/customers/{c}/points", None),
        ("POST", f"/customers/{c}/points", {"kind": "earn", "points": 5}),
        ("GET", f"/customers/{c}/concessions", None),
        (
            "POST",
            f"/customers/{c}/concessions",
            {"kind": "gift", "reason": "goodwill", "approver_id": str(uuid.uuid4())},
        ),
        ("GET", f"/customers/{c}/organizations", None),
        ("GET", f"/customers/{o}/contacts", None),
        ("POST", f"/customers/{o}/contacts", {"name": "Spy", "roles": ["user"]}),
        ("GET", f"/customers/{o}/contacts/{ids['contact']}", None),
        ("PATCH", f"/customers/{o}/contacts/{ids['contact']}", {"title": "x"}),
        ("DELETE", f"/customers/{o}/contacts/{ids['contact']}", None),
        ("GET", f"/orders/{ids['order']}", None),
        ("PATCH", f"/orders/{ids['order']}", {"channel": "x"}),
        ("DELETE", f"/orders/{ids['order']}", None),
        ("POST", f"/orders/{ids['order']}/refunds", {"amount": "1", "occurred_at": WHEN}),
        ("GET", f"/interactions/{ids['interaction']}", None),
        ("PATCH", f"/interactions/{ids['interaction']}", {"outcome": "x"}),
        ("DELETE", f"/interactions/{ids['interaction']}", None),
        ("POST", f"/customers/{c}/merge", {"duplicate_id": str(uuid.uuid4())}),
    ]


@pytest.fixture
async def two_agents(client: httpx.AsyncClient) -> tuple[dict[str, str], dict[str, str]]:
    return await seed(client, AGENT_A), await seed(client, AGENT_B)


async def test_agents_cannot_touch_each_others_customers(
    client: httpx.AsyncClient, two_agents: tuple[dict[str, str], dict[str, str]]
) -> None:
    a_ids, b_ids = two_agents
    for attacker, victim in ((AGENT_A, b_ids), (AGENT_B, a_ids)):
        for method, path, body in attempts(victim):
            headers = {**as_agent(attacker), "If-Match": '"1"'}
            response = await client.request(method, path, json=body, headers=headers)
            assert response.status_code == 404, (method, path, response.status_code, response.text)
            assert response.headers["content-type"] == "application/problem+json"
    # nothing changed: the victim's records are as they were
    for ids in (a_ids, b_ids):
        customer = (await client.get(f"/customers/{ids['customer']}")).json()
        assert (customer["name"], customer["version"]) == (f"of {customer['owner_id'][:4]}", 1)
        assert (await client.get(f"/orders/{ids['order']}")).json()["version"] == 1
        assert (await client.get(f"/customers/{ids['customer']}/points")).json()["balance"] == 0


async def test_agents_can_work_on_their_own(
    client: httpx.AsyncClient, two_agents: tuple[dict[str, str], dict[str, str]]
) -> None:
    a_ids, _ = two_agents
    for method, path, _body in attempts(a_ids):
        if method == "GET":
            response = await client.get(path, headers=as_agent(AGENT_A))
            assert response.status_code == 200, path


async def test_lists_show_only_what_is_yours(
    client: httpx.AsyncClient, two_agents: tuple[dict[str, str], dict[str, str]]
) -> None:
    _, b_ids = two_agents
    for path, key in (("/customers", "id"), ("/orders", "id"), ("/interactions", "id")):
        seen = {item[key] for item in (await client.get(path, headers=as_agent(AGENT_A))).json()["items"]}
        assert seen, path
        assert not seen & set(b_ids.values()), path
    assert (await client.get("/customers/duplicates", headers=as_agent(AGENT_A))).json()["items"] == []
    team = internal_headers(subject=MANAGER, role="manager")
    team_with_a = {"X-Internal-Token": _manager_token([AGENT_A])}
    assert (await client.get("/customers", headers=team)).json()["items"] == []
    managed = {c["owner_id"] for c in (await client.get("/customers", headers=team_with_a)).json()["items"]}
    assert managed == {AGENT_A}


def _manager_token(team: list[str]) -> str:
    from crm_chassis.identity import Principal, sign_internal_token
    from crm_chassis.settings import DEV_INTERNAL_SECRET

    principal = Principal(subject=MANAGER, kind="user", role="manager", team=frozenset(team))
    return sign_internal_token(principal, DEV_INTERNAL_SECRET)


async def test_agent_creates_only_their_own_customers(client: httpx.AsyncClient) -> None:
    mine = await client.post("/customers", json={"kind": "individual", "name": "Mine"}, headers=as_agent(AGENT_A))
    assert mine.json()["owner_id"] == AGENT_A
    theirs = await client.post(
        "/customers", json={"kind": "individual", "name": "X", "owner_id": AGENT_B}, headers=as_agent(AGENT_A)
    )
    assert theirs.status_code == 403
    url = f"/customers/{mine.json()['id']}"
    give_away = await client.patch(url, json={"owner_id": AGENT_B}, headers={**as_agent(AGENT_A), "If-Match": '"1"'})
    assert give_away.status_code == 403


async def test_partner_keys_see_personal_fields_only_with_the_pii_scope(client: httpx.AsyncClient) -> None:
    created = (
        await client.post(
            "/customers",
            json={
                "kind": "individual",
                "name": "Pat",
                "email": "pat@example.com",
                "phone": "13800138000",
                "taboos": ["x"],
            },
        )
    ).json()
    plain = internal_headers(subject="key-1", role=None, kind="api_key")  # type: ignore[arg-type]
    masked = (await client.get(f"/customers/{created['id']}", headers=plain)).json()
    assert (masked["name"], masked["email"], masked["phone"], masked["taboos"]) == ("Pat", None, None, [])
    listed = (await client.get("/customers", headers=plain)).json()["items"][0]
    assert listed["email"] is None
    from crm_chassis.identity import Principal, sign_internal_token
    from crm_chassis.settings import DEV_INTERNAL_SECRET

    pii = Principal(subject="key-2", kind="api_key", scopes=frozenset({"customers:read", "customers:pii"}))
    full = (
        await client.get(
            f"/customers/{created['id']}", headers={"X-Internal-Token": sign_internal_token(pii, DEV_INTERNAL_SECRET)}
        )
    ).json()
    assert (full["email"], full["phone"]) == ("pat@example.com", "+8613800138000")
