"""Agents see only the feedback of the customers they manage; another's answers 404 and changes nothing."""

from __future__ import annotations

import uuid

import httpx
from feedback_helpers import create_complaint, make_customer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_chassis.testing import internal_headers

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
