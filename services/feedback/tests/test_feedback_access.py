"""Agents see only the feedback of the customers they manage; another's answers 404 and changes nothing."""

from __future__ import annotations

import uuid

import httpx
from feedback_helpers import create_complaint, make_customer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_chassis.identity import Principal, sign_internal_token
from crm_chassis.testing import DEV_INTERNAL_SECRET, internal_headers

AGENT_A, AGENT_B = str(uuid.uuid4()), str(uuid.uuid4())


def agent(who: str) -> dict[str, str]:
    return internal_headers(subject=who, role="agent")


async def test_agents_cannot_see_or_touch_each_others_complaints(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    mine = await make_customer(db, owner_id=uuid.UUID(AGENT_A))
    theirs = await make_customer(db, owner_id=uuid.UUID(AGENT_B))
    own = await create_complaint(client, mine)
    other = await create_complaint(client, theirs)
    record = await client.post(
        "/service-records",
        json={
            "customer_id": str(theirs),
            "type": "repair",
            "service_date": "2026-05-01",
            "handler": "Li",
            "outcome": "ok",
        },
    )
    assert record.status_code == 201, record.text

    listed = (await client.get("/complaints", headers=agent(AGENT_A))).json()["items"]
    assert [c["id"] for c in listed] == [own["id"]]
    for method, path, body in (
        ("GET", f"/complaints/{other['id']}", None),
        ("PATCH", f"/complaints/{other['id']}", {"description": "hidden"}),
        ("POST", f"/complaints/{other['id']}/transitions", {"action": "acknowledge"}),
        ("GET", f"/service-records/{record.json()['id']}", None),
    ):
        response = await client.request(method, path, json=body, headers={**agent(AGENT_A), "If-Match": '"1"'})
        assert response.status_code == 404, (method, path, response.text)
    assert (await client.get("/service-records", headers=agent(AGENT_A))).json()["items"] == []
    opened = await client.post(
        "/complaints",
        json={
            "customer_id": str(theirs),
            "channel": "phone",
            "category": "delivery",
            "severity": "low",
            "description": "x",
        },
        headers=agent(AGENT_A),
    )
    assert opened.status_code == 422
    still = (await client.get(f"/complaints/{other['id']}")).json()
    assert (still["status"], still["version"]) == ("open", 1)


def manager(who: str, team: set[str]) -> dict[str, str]:
    principal = Principal(subject=who, kind="user", role="manager", team=frozenset(team))
    return {"X-Internal-Token": sign_internal_token(principal, DEV_INTERNAL_SECRET)}


async def test_agents_cannot_see_or_touch_each_others_suggestions(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    mine = await make_customer(db, owner_id=uuid.UUID(AGENT_A))
    theirs = await make_customer(db, owner_id=uuid.UUID(AGENT_B))

    async def suggest(who: str, customer: uuid.UUID | None) -> str:
        body = {"topic": "product", "text": "More colours", "customer_id": str(customer) if customer else None}
        response = await client.post("/suggestions", json=body, headers=agent(who))
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    own, own_loose = await suggest(AGENT_A, mine), await suggest(AGENT_A, None)
    other, other_loose = await suggest(AGENT_B, theirs), await suggest(AGENT_B, None)

    listed = (await client.get("/suggestions", headers=agent(AGENT_A))).json()["items"]
    assert sorted(s["id"] for s in listed) == sorted([own, own_loose])
    assert len((await client.get("/suggestions")).json()["items"]) == 4  # an admin sees them all
    for target in (other, other_loose):
        for method, body in (("GET", None), ("PATCH", {"text": "changed"}), ("DELETE", None)):
            response = await client.request(
                method, f"/suggestions/{target}", json=body, headers={**agent(AGENT_A), "If-Match": '"1"'}
            )
            assert response.status_code == 404, (method, target, response.text)
            assert response.json()["code"] == "suggestion_not_found"
        still = (await client.get(f"/suggestions/{target}")).json()
        assert (still["text"], still["version"]) == ("More colours", 1)
    assert (await client.get(f"/suggestions/{own}", headers=agent(AGENT_A))).status_code == 200
    refused = await client.post(
        "/suggestions", json={"topic": "product", "text": "x", "customer_id": str(theirs)}, headers=agent(AGENT_A)
    )
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["code"] == "unknown_customer"
    # Agent B's manager sees B's suggestions, not A's.
    team = (await client.get("/suggestions", headers=manager(str(uuid.uuid4()), {AGENT_B}))).json()["items"]
    assert sorted(s["id"] for s in team) == sorted([other, other_loose])


async def test_agents_cannot_see_or_answer_each_others_survey_invitations(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    mine = await make_customer(db, owner_id=uuid.UUID(AGENT_A))
    theirs = await make_customer(db, owner_id=uuid.UUID(AGENT_B))
    questions = [{"key": "overall", "type": "rating", "text": "Overall satisfaction"}]
    survey = (await client.post("/surveys", json={"title": "S", "kind": "satisfaction", "questions": questions})).json()
    url = f"/surveys/{survey['id']}"

    async def invite(who: str, customer: uuid.UUID) -> str:
        body = {"customer_ids": [str(customer)], "channel": "phone"}
        response = await client.post(f"{url}/invitations", json=body, headers=agent(who))
        assert response.status_code == 201, response.text
        return str(response.json()["items"][0]["id"])

    own_invitation, other_invitation = await invite(AGENT_A, mine), await invite(AGENT_B, theirs)
    answered = await client.post(
        f"{url}/responses",
        json={"invitation_id": other_invitation, "channel": "phone", "answers": {"overall": 5}},
        headers=agent(AGENT_B),
    )
    assert answered.status_code == 201, answered.text
    other_response = answered.json()["id"]

    listed = (await client.get(f"{url}/invitations", headers=agent(AGENT_A))).json()["items"]
    assert [i["id"] for i in listed] == [own_invitation]
    assert (await client.get(f"{url}/responses", headers=agent(AGENT_A))).json()["items"] == []
    hidden = await client.get(f"{url}/responses/{other_response}", headers=agent(AGENT_A))
    assert hidden.status_code == 404
    # Answering another's invitation, or for another's customer, is refused as for an unknown one.
    for body in (
        {"invitation_id": other_invitation, "channel": "phone", "answers": {"overall": 1}},
        {"customer_id": str(theirs), "channel": "phone", "answers": {"overall": 1}},
    ):
        refused = await client.post(f"{url}/responses", json=body, headers=agent(AGENT_A))
        assert refused.status_code == 422, refused.text
        assert refused.json()["errors"][0]["code"] in {"unknown_invitation", "unknown_customer"}
    invited = await client.post(
        f"{url}/invitations", json={"customer_ids": [str(theirs)], "channel": "phone"}, headers=agent(AGENT_A)
    )
    assert invited.status_code == 422
    assert invited.json()["errors"][0]["code"] == "unknown_customer"
    assert len((await client.get(f"{url}/responses")).json()["items"]) == 1
    assert len((await client.get(f"{url}/invitations")).json()["items"]) == 2
    mine_answered = await client.post(
        f"{url}/responses",
        json={"invitation_id": own_invitation, "channel": "phone", "answers": {"overall": 4}},
        headers=agent(AGENT_A),
    )
    assert mine_answered.status_code == 201, mine_answered.text


async def test_a_manager_reads_satisfaction_only_of_his_teams_customers(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    in_team = await make_customer(db, owner_id=uuid.UUID(AGENT_A))
    outside = await make_customer(db, owner_id=uuid.UUID(AGENT_B))
    boss = manager(str(uuid.uuid4()), {AGENT_A})

    assert (await client.get(f"/analytics/satisfaction/customers/{in_team}", headers=boss)).status_code == 200
    refused = await client.get(f"/analytics/satisfaction/customers/{outside}", headers=boss)
    assert refused.status_code == 404
    unknown = await client.get(f"/analytics/satisfaction/customers/{uuid.uuid4()}", headers=boss)
    assert (unknown.status_code, unknown.json()["code"]) == (404, refused.json()["code"])
    assert (await client.get(f"/analytics/satisfaction/customers/{outside}")).status_code == 200
