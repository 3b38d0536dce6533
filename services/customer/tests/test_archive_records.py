"""Contacts and key customers, owners and their history, audit history, referrals, points, concessions."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
from user_helpers import known_user

from crm_chassis.testing import internal_headers

MANAGER = str(uuid.uuid4())


async def make(client: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    response = await client.post("/customers", json={"kind": "individual", "name": "P", **body})
    assert response.status_code == 201, response.text
    return response.json()


async def test_contacts_with_roles_and_many_organisations(client: httpx.AsyncClient) -> None:
    org_a = await make(client, kind="organization", name="Acme")
    org_b = await make(client, kind="organization", name="Beta")
    person = await make(client, name="王芳")
    added = await client.post(
        f"/customers/{org_a['id']}/contacts",
        json={"customer_id": person["id"], "roles": ["decision_maker", "purchaser"]},
    )
    assert added.status_code == 201
    assert (added.json()["name"], added.json()["customer_id"]) == ("王芳", person["id"])
    await client.post(f"/customers/{org_b['id']}/contacts", json={"customer_id": person["id"], "roles": ["influencer"]})
    named = await client.post(f"/customers/{org_a['id']}/contacts", json={"name": "Front desk", "roles": ["user"]})
    assert named.status_code == 201
    listed = (await client.get(f"/customers/{org_a['id']}/contacts")).json()["items"]
    assert [c["name"] for c in listed] == ["王芳", "Front desk"]
    memberships = (await client.get(f"/customers/{person['id']}/organizations")).json()["items"]
    assert {(m["organization_name"], tuple(m["roles"])) for m in memberships} == {
        ("Acme", ("decision_maker", "purchaser")),
        ("Beta", ("influencer",)),
    }


async def test_bad_contacts(client: httpx.AsyncClient) -> None:
    org = await make(client, kind="organization", name="Acme")
    person = await make(client)
    other_org = await make(client, kind="organization", name="Other")
    url = f"/customers/{org['id']}/contacts"
    assert (await client.post(url, json={"name": "x", "roles": []})).status_code == 422
    assert (await client.post(url, json={"name": "x", "roles": ["ceo"]})).status_code == 422
    assert (await client.post(url, json={"roles": ["user"]})).status_code == 422
    assert (await client.post(url, json={"customer_id": other_org["id"], "roles": ["user"]})).status_code == 422
    assert (await client.post(url, json={"customer_id": str(uuid.uuid4()), "roles": ["user"]})).status_code == 422
    person_url = f"/customers/{person['id']}/contacts"
    assert (await client.post(person_url, json={"name": "x", "roles": ["user"]})).status_code == 409
    assert (await client.post(url, json={"customer_id": person["id"], "roles": ["user"]})).status_code == 201
    assert (await client.post(url, json={"customer_id": person["id"], "roles": ["user"]})).status_code == 409


async def test_senior_leaders_of_key_organisations_are_key_too(client: httpx.AsyncClient) -> None:
    org = await make(client, kind="organization", name="Acme")
    leader = await make(client, name="Leader")
    buyer = await make(client, name="Buyer")
    await make(client, name="Flagged", is_key=True, key_reason="top spender")
    await client.post(
        f"/customers/{org['id']}/contacts", json={"customer_id": leader["id"], "roles": ["senior_leader"]}
    )
    await client.post(f"/customers/{org['id']}/contacts", json={"customer_id": buyer["id"], "roles": ["purchaser"]})

    async def key_names() -> dict[str, list[str]]:
        items = (await client.get("/customers", params={"key": "true"})).json()["items"]
        return {c["name"]: c["key_reasons"] for c in items}

    assert await key_names() == {"Flagged": ["top spender"]}
    await client.patch(f"/customers/{org['id']}", json={"is_key": True}, headers={"If-Match": '"1"'})
    assert await key_names() == {
        "Acme": ["flagged as a key customer"],
        "Leader": ["senior leader of key organisation Acme"],
        "Flagged": ["top spender"],
    }
    not_key = (await client.get("/customers", params={"key": "false"})).json()["items"]
    assert sorted(c["name"] for c in not_key) == ["Buyer"]


async def test_owner_reassignment_keeps_history_and_publishes(client: httpx.AsyncClient, db: Any) -> None:
    first, second = await known_user(db, role="agent"), await known_user(db, role="manager")
    customer = await make(client, owner_id=first)
    moved = await client.post(
        f"/customers/{customer['id']}/owner",
        json={"owner_id": second, "reason": "territory change"},
        headers=internal_headers(subject=MANAGER, role="admin"),
    )
    assert moved.status_code == 200 and moved.json()["owner_id"] == second
    same = await client.post(f"/customers/{customer['id']}/owner", json={"owner_id": second})
    assert same.status_code == 409
    await client.patch(f"/customers/{customer['id']}", json={"owner_id": None}, headers={"If-Match": '"2"'})
    history = (await client.get(f"/customers/{customer['id']}/owner-history")).json()["items"]
    assert [(h["from_owner_id"], h["to_owner_id"], h["reason"]) for h in history] == [
        (first, second, "territory change"),
        (second, None, None),
    ]
    assert history[0]["changed_by"] == MANAGER
    feed = (await client.get("/internal/events")).json()["items"]
    changed = [e["data"] for e in feed if e["type"] == "customer.owner_changed"]
    assert [(c["from_owner_id"], c["to_owner_id"]) for c in changed] == [(first, second), (second, None)]


async def test_audit_history_field_by_field(client: httpx.AsyncClient) -> None:
    customer = await make(client, occupation="teacher", tags=["a"])
    await client.patch(
        f"/customers/{customer['id']}",
        json={"occupation": "engineer", "tags": ["a", "b"], "name": "P"},  # name unchanged: not recorded
        headers={"If-Match": '"1"', **internal_headers(subject="editor-1")},
    )
    items = (await client.get(f"/customers/{customer['id']}/history")).json()["items"]
    updates = sorted((i["field"], i["old"], i["new"]) for i in items if i["action"] == "updated")
    assert updates == [("occupation", "teacher", "engineer"), ("tags", ["a"], ["a", "b"])]
    assert {i["changed_by"] for i in items if i["action"] == "updated"} == {"editor-1"}
    assert [i["action"] for i in items][-1] == "created"


async def test_referrals(client: httpx.AsyncClient) -> None:
    referrer = await make(client, name="Referrer")
    for name in ("A", "B", "C"):
        await make(client, name=name, acquisition_channel="referral", referred_by=referrer["id"])
    page = (await client.get(f"/customers/{referrer['id']}/referrals", params={"limit": 2})).json()
    assert page["count"] == 3
    assert [c["name"] for c in page["items"]] == ["A", "B"]
    rest = (await client.get(f"/customers/{referrer['id']}/referrals", params={"cursor": page["next_cursor"]})).json()
    assert [c["name"] for c in rest["items"]] == ["C"]


async def test_points_ledger_never_negative(client: httpx.AsyncClient) -> None:
    customer = await make(client)
    url = f"/customers/{customer['id']}/points"
    assert (await client.post(url, json={"kind": "earn", "points": 100, "reason": "order"})).status_code == 201
    assert (await client.post(url, json={"kind": "redeem", "points": 30})).json()["balance_after"] == 70
    refused = await client.post(url, json={"kind": "redeem", "points": 71})
    assert refused.status_code == 409 and refused.json()["balance"] == 70
    assert (await client.post(url, json={"kind": "adjust", "points": -80, "reason": "fix"})).status_code == 409
    assert (await client.post(url, json={"kind": "adjust", "points": -5})).status_code == 422  # no reason
    assert (await client.post(url, json={"kind": "redeem", "points": -5})).status_code == 422
    assert (await client.post(url, json={"kind": "earn", "points": 0})).status_code == 422
    assert (await client.post(url, json={"kind": "expire", "points": 20})).status_code == 201
    ledger = (await client.get(url)).json()
    assert ledger["balance"] == 50
    assert [i["points"] for i in ledger["items"]] == [-20, -30, 100]


async def test_concurrent_redeems_cannot_overspend(client: httpx.AsyncClient) -> None:
    customer = await make(client)
    url = f"/customers/{customer['id']}/points"
    await client.post(url, json={"kind": "earn", "points": 100})
    results = await asyncio.gather(*[client.post(url, json={"kind": "redeem", "points": 30}) for _ in range(6)])
    assert sorted(r.status_code for r in results) == [201, 201, 201, 409, 409, 409]
    assert (await client.get(url)).json()["balance"] == 10


async def test_concessions_never_reward_disloyalty(client: httpx.AsyncClient, db: Any) -> None:
    customer = await make(client)
    url = f"/customers/{customer['id']}/concessions"
    approver = await known_user(db, role="manager")
    base = {"kind": "discount", "value": "50.00", "currency": "CNY", "approver_id": approver}
    refused = await client.post(url, json={**base, "reason": "threatened_to_leave"})
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "body.reciprocal"
    granted = await client.post(url, json={**base, "reason": "threatened_to_leave", "reciprocal": "signs for 2 years"})
    assert granted.status_code == 201
    assert (await client.post(url, json={**base, "reason": "goodwill", "currency": None})).status_code == 422
    assert (await client.post(url, json={"kind": "gift", "reason": "goodwill"})).status_code == 422  # no approver
    items = (await client.get(url)).json()["items"]
    assert [(i["reason"], i["reciprocal"]) for i in items] == [("threatened_to_leave", "signs for 2 years")]
