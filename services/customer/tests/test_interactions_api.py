"""The contact log."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from user_helpers import known_user

from crm_chassis.testing import internal_headers

AGENT = "6f1f7f9c-5d7e-4c53-9b8e-1b1f6f0e2a11"


@pytest.fixture(autouse=True)
async def agent_known(db: Any) -> None:
    await known_user(db, AGENT, role="agent")


async def customer(client: httpx.AsyncClient) -> str:
    body = {"kind": "individual", "name": "C", "owner_id": AGENT}
    return str((await client.post("/customers", json=body)).json()["id"])


def contact(**extra: Any) -> dict[str, Any]:
    return {
        "occurred_at": "2026-05-01T09:00:00Z",
        "channel": "phone",
        "direction": "outbound",
        "summary": "call",
        **extra,
    }


async def test_log_list_and_event(client: httpx.AsyncClient) -> None:
    cid = await customer(client)
    response = await client.post(
        f"/customers/{cid}/interactions",
        json=contact(outcome="interested", next_follow_up_date="2026-05-15"),
        headers=internal_headers(subject=AGENT, role="agent"),
    )
    assert response.status_code == 201
    body = response.json()
    assert (body["customer_id"], body["owner_id"], body["next_follow_up_date"]) == (cid, AGENT, "2026-05-15")
    await client.post(
        "/interactions", json=contact(customer_id=cid, channel="visit", occurred_at="2026-04-01T00:00:00Z")
    )
    listed = (await client.get(f"/customers/{cid}/interactions")).json()["items"]
    assert [i["channel"] for i in listed] == ["phone", "visit"]  # newest first
    due = (await client.get("/interactions", params={"follow_up_before": "2026-06-01"})).json()["items"]
    assert [i["id"] for i in due] == [body["id"]]
    feed = (await client.get("/internal/events")).json()["items"]
    logged = [e for e in feed if e["type"] == "interaction.logged"]
    assert len(logged) == 2 and logged[0]["data"]["owner_id"] == AGENT


async def test_bad_contacts(client: httpx.AsyncClient) -> None:
    cid = await customer(client)
    for bad in (
        contact(channel="pigeon"),
        contact(direction="sideways"),
        contact(summary=""),
        contact(occurred_at="2999-01-01T00:00:00Z"),
        contact(next_follow_up_date="2026-04-01"),
        contact(mood="happy"),
    ):
        response = await client.post(f"/customers/{cid}/interactions", json=bad)
        assert response.status_code == 422, bad
    missing = await client.post("/interactions", json=contact(customer_id="00000000-0000-0000-0000-000000000000"))
    assert missing.status_code == 422
    assert (await client.get("/interactions")).json()["items"] == []


async def test_patch_delete(client: httpx.AsyncClient) -> None:
    cid = await customer(client)
    item = (await client.post(f"/customers/{cid}/interactions", json=contact())).json()
    url = f"/interactions/{item['id']}"
    assert (await client.patch(url, json={"outcome": "x"})).status_code == 428
    assert (await client.patch(url, json={"summary": None}, headers={"If-Match": '"1"'})).status_code == 422
    ok = await client.patch(url, json={"outcome": "signed"}, headers={"If-Match": '"1"'})
    assert ok.json()["outcome"] == "signed"
    assert (await client.delete(url, headers={"If-Match": '"2"'})).status_code == 204
    assert (await client.get(url)).status_code == 404
