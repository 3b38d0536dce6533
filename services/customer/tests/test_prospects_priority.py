"""GET /prospects/priority: prospects ranked by need, purchasing power, decision authority and
contact recency, each with the reasons of its score."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from user_helpers import known_user

from crm_chassis.testing import internal_headers

AGENT, OTHER = "6f1f7f9c-5d7e-4c53-9b8e-1b1f6f0e2a16", "6f1f7f9c-5d7e-4c53-9b8e-1b1f6f0e2a17"
AS_OF = "2026-06-01T12:00:00Z"


@pytest.fixture(autouse=True)
async def agents_known(db: Any) -> None:
    await known_user(db, AGENT, role="agent")
    await known_user(db, OTHER, role="agent")


async def prospect(client: httpx.AsyncClient, name: str, owner: str = AGENT, **fields: Any) -> str:
    body = {"kind": "individual", "name": name, "owner_id": owner, **fields}
    response = await client.post("/customers", json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def contacted(client: httpx.AsyncClient, cid: str, at: str) -> None:
    body = {"occurred_at": at, "channel": "phone", "direction": "outbound", "summary": "call"}
    assert (await client.post(f"/customers/{cid}/interactions", json=body)).status_code == 201


async def ranking(client: httpx.AsyncClient, headers: dict[str, str] | None = None, **params: Any) -> Any:
    response = await client.get("/prospects/priority", params={"as_of": AS_OF, **params}, headers=headers or {})
    return response.json() if response.status_code == 200 else response.status_code


async def test_prospects_are_ranked_with_the_reasons(client: httpx.AsyncClient) -> None:
    urgent = await prospect(client, "Urgent", need_level="urgent", purchasing_power="low")
    able = await prospect(
        client, "Able", need_level="medium", purchasing_power="very_high", has_purchase_authority=True
    )
    warm = await prospect(client, "Warm", need_level="medium", purchasing_power="very_high")
    cold = await prospect(client, "Cold", need_level="none")
    await contacted(client, warm, "2026-05-29T12:00:00Z")  # 3 days before: +10
    await contacted(client, able, "2026-03-01T12:00:00Z")  # 92 days before: +0
    await contacted(client, urgent, "2026-06-20T12:00:00Z")  # after as_of: not seen
    items = (await ranking(client))["items"]
    assert [(i["name"], i["rank"], i["score"]) for i in items] == [
        ("Able", 1, 20 + 30 + 20),
        ("Warm", 2, 20 + 30 + 10),
        ("Urgent", 3, 40 + 5),
        ("Cold", 4, 0),
    ]
    assert items[1]["reasons"] == [
        "need level medium: +20",
        "purchasing power very_high: +30",
        "decision authority not recorded: +0",
        "last contact 3 days ago: +10",
    ]
    assert items[2]["reasons"][-1] == "never contacted: +0" and items[2]["last_contact_at"] is None
    assert {i["customer_id"] for i in items} == {urgent, able, warm, cold}


async def test_only_visible_prospects_and_pages_follow_the_ranking(client: httpx.AsyncClient) -> None:
    mine = [await prospect(client, f"P{k}", need_level=level) for k, level in enumerate(("low", "high", "urgent"))]
    theirs = await prospect(client, "Theirs", owner=OTHER, need_level="urgent")
    await prospect(client, "Buyer", need_level="urgent", lifecycle_stage="active")  # no prospect
    agent = internal_headers(role="agent", subject=AGENT)
    first = await ranking(client, agent, limit=2)
    rest = await ranking(client, agent, limit=2, cursor=first["next_cursor"])
    assert [i["customer_id"] for i in first["items"] + rest["items"]] == [mine[2], mine[1], mine[0]]
    assert [i["rank"] for i in rest["items"]] == [3] and rest["next_cursor"] is None
    assert await ranking(client, agent, owner_id=OTHER) == 403
    everyone = await ranking(client, owner_id=OTHER)
    assert [i["customer_id"] for i in everyone["items"]] == [theirs]
