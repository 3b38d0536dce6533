"""Object- and field-level access in the customer service: no one sees what is not theirs.

Two agents each try every read and write on the other's customer and its records; every
attempt must look exactly like a customer that does not exist, and change nothing.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from user_helpers import known_user

from crm_chassis.testing import internal_headers

AGENT_A, AGENT_B, MANAGER = (str(uuid.uuid4()) for _ in range(3))
WHEN = "2026-03-01T10:00:00Z"


@pytest.fixture(autouse=True)
async def agents_known(db: Any) -> None:
    """The agents and the manager as the gateway's user events describe them."""
    for agent in (AGENT_A, AGENT_B):
        await known_user(db, agent, role="agent")
    await known_user(db, MANAGER, role="manager")


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
async def two_agents(client: httpx.AsyncClient, db: Any) -> tuple[dict[str, str], dict[str, str]]:
    for agent in (AGENT_A, AGENT_B):
        await known_user(db, agent, role="agent")
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


def _key(*scopes: str) -> dict[str, str]:
    from crm_chassis.identity import Principal, sign_internal_token
    from crm_chassis.settings import DEV_INTERNAL_SECRET

    principal = Principal(subject=f"key-{len(scopes)}", kind="api_key", scopes=frozenset(scopes))
    return {"X-Internal-Token": sign_internal_token(principal, DEV_INTERNAL_SECRET)}


async def test_another_agents_customer_cannot_be_linked_and_answers_like_a_missing_one(
    client: httpx.AsyncClient, two_agents: tuple[dict[str, str], dict[str, str]]
) -> None:
    a_ids, b_ids = two_agents
    theirs, missing = b_ids["customer"], str(uuid.uuid4())
    answers = []
    for target in (theirs, missing):
        contact = await client.post(
            f"/customers/{a_ids['org']}/contacts",
            json={"customer_id": target, "roles": ["user"]},
            headers=as_agent(AGENT_A),
        )
        created = await client.post(
            "/customers",
            json={"kind": "individual", "name": "Friend", "referred_by": target},
            headers=as_agent(AGENT_A),
        )
        changed = await client.patch(
            f"/customers/{a_ids['customer']}",
            json={"referred_by": target},
            headers={**as_agent(AGENT_A), "If-Match": '"1"'},
        )
        answers.append(
            [
                (r.status_code, [(e["field"], e["code"]) for e in r.json()["errors"]], "of " in r.text)
                for r in (contact, created, changed)
            ]
        )
    assert answers[0] == answers[1]
    assert {status for status, _, _ in answers[0]} == {422}
    assert not any(named for _, _, named in answers[0])  # the other customer's name is not in the answer
    referrals = (await client.get(f"/customers/{theirs}/referrals")).json()
    assert (referrals["count"], referrals["items"]) == (0, [])
    assert (await client.get(f"/customers/{a_ids['customer']}")).json()["version"] == 1
    # A contact of one's own customer, and a referral by it, still work.
    own = await client.post(
        f"/customers/{a_ids['org']}/contacts",
        json={"customer_id": a_ids["customer"], "roles": ["user"]},
        headers=as_agent(AGENT_A),
    )
    assert own.status_code == 201, own.text
    referred = await client.post(
        "/customers",
        json={"kind": "individual", "name": "Friend", "referred_by": a_ids["customer"]},
        headers=as_agent(AGENT_A),
    )
    assert referred.status_code == 201, referred.text


async def test_another_agents_merge_cannot_be_read_or_undone(client: httpx.AsyncClient) -> None:
    survivor = (await client.post("/customers", json={"kind": "individual", "name": "S", "owner_id": AGENT_B})).json()
    duplicate = (await client.post("/customers", json={"kind": "individual", "name": "D", "owner_id": AGENT_B})).json()
    merged = await client.post(
        f"/customers/{survivor['id']}/merge", json={"duplicate_id": duplicate["id"]}, headers=as_agent(AGENT_B)
    )
    assert merged.status_code == 201, merged.text
    merge_id = merged.json()["id"]

    assert (await client.get(f"/merges/{merge_id}", headers=as_agent(AGENT_A))).status_code == 404
    undo = await client.post(f"/merges/{merge_id}/undo", headers=as_agent(AGENT_A))
    assert (undo.status_code, undo.json()["code"]) == (404, "merge_not_found")
    assert (await client.get(f"/merges/{merge_id}")).json()["undone_at"] is None
    # The merged-away customer of another agent does not exist for A: no redirect naming the survivor.
    for method, path in (("GET", f"/customers/{duplicate['id']}"), ("GET", f"/customers/{duplicate['id']}/orders")):
        hidden = await client.request(method, path, headers=as_agent(AGENT_A))
        assert (hidden.status_code, hidden.json()["code"]) == (404, "customer_not_found")
        assert survivor["id"] not in hidden.text and "location" not in hidden.headers
    own = (await client.post("/customers", json={"kind": "individual", "name": "A", "owner_id": AGENT_A})).json()
    into_own = await client.post(
        f"/customers/{own['id']}/merge", json={"duplicate_id": duplicate["id"]}, headers=as_agent(AGENT_A)
    )
    assert (into_own.status_code, into_own.json()["code"]) == (404, "customer_not_found")
    assert survivor["id"] not in into_own.text
    moved = await client.get(f"/customers/{duplicate['id']}", headers=as_agent(AGENT_B), follow_redirects=False)
    assert moved.status_code == 301
    assert (await client.get(f"/merges/{merge_id}", headers=as_agent(AGENT_B))).status_code == 200
    assert (await client.post(f"/merges/{merge_id}/undo", headers=as_agent(AGENT_B))).status_code == 200


async def test_partner_keys_without_pii_see_no_contact_details_and_cannot_search_by_them(
    client: httpx.AsyncClient,
) -> None:
    org = (await client.post("/customers", json={"kind": "organization", "name": "Acme"})).json()
    contact = await client.post(
        f"/customers/{org['id']}/contacts",
        json={"name": "Boss", "roles": ["user"], "phone": "13900139000", "email": "b@acme.example", "notes": "at 8"},
    )
    assert contact.status_code == 201, contact.text
    person = await client.post(
        "/customers", json={"kind": "individual", "name": "Pat", "email": "pat@example.com", "phone": "13800138000"}
    )
    assert person.status_code == 201, person.text
    plain, pii = _key("customers:read"), _key("customers:read", "customers:pii")

    listed = (await client.get(f"/customers/{org['id']}/contacts", headers=plain)).json()["items"]
    one = (await client.get(f"/customers/{org['id']}/contacts/{contact.json()['id']}", headers=plain)).json()
    for seen in (listed[0], one):
        assert (seen["name"], seen["phone"], seen["email"], seen["notes"]) == ("Boss", None, None, None)
    full = (await client.get(f"/customers/{org['id']}/contacts", headers=pii)).json()["items"][0]
    assert (full["phone"], full["email"]) == ("+8613900139000", "b@acme.example")

    for q in ("13800138000", "138 0013 8000", "pat@example.com", "example"):
        assert (await client.get("/customers", params={"q": q}, headers=plain)).json()["items"] == [], q
        found = (await client.get("/customers", params={"q": q}, headers=pii)).json()["items"]
        assert [c["name"] for c in found] == ["Pat"], q
    assert [c["name"] for c in (await client.get("/customers", params={"q": "pa"}, headers=plain)).json()["items"]] == [
        "Pat"
    ]


async def test_the_history_shows_no_personal_fields_to_partner_keys_without_pii(client: httpx.AsyncClient) -> None:
    created = (
        await client.post(
            "/customers", json={"kind": "individual", "name": "Pat", "email": "pat@example.com", "phone": "13800138000"}
        )
    ).json()
    changed = await client.patch(
        f"/customers/{created['id']}", json={"email": "pat2@example.com", "tags": ["vip"]}, headers={"If-Match": '"1"'}
    )
    assert changed.status_code == 200, changed.text
    url = f"/customers/{created['id']}/history"

    masked = await client.get(url, headers=_key("customers:read"))
    assert masked.status_code == 200
    for secret in ("pat@example.com", "pat2@example.com", "13800138000"):
        assert secret not in masked.text
    assert "vip" in masked.text  # what is not personal stays
    full = (await client.get(url, headers=_key("customers:read", "customers:pii"))).text
    assert "pat2@example.com" in full and "13800138000" in full
