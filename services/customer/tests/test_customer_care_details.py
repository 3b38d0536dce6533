"""What the care list needs to make contact travels in the events scoring reads."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from user_helpers import known_user

from crm_chassis.testing import internal_headers

AGENT = "6f1f7f9c-5d7e-4c53-9b8e-1b1f6f0e2a12"


@pytest.fixture(autouse=True)
async def agent_known(db: Any) -> None:
    await known_user(db, AGENT, role="agent")


async def events_of(client: httpx.AsyncClient, type: str) -> list[dict[str, Any]]:
    feed = (await client.get("/internal/events", params={"limit": 500})).json()["items"]
    return [e["data"] for e in feed if e["type"] == type]


async def test_contact_preferences_are_kept_and_published(client: httpx.AsyncClient) -> None:
    body = {
        "kind": "individual",
        "name": "Wang Fang",
        "owner_id": AGENT,
        "phone": "+86 138 0013 8000",
        "preferred_channel": "im",
        "best_contact_time": "after 18:00",
    }
    created = await client.post("/customers", json=body)
    assert created.status_code == 201, created.text
    assert created.json()["preferred_channel"] == "im"
    (data,) = await events_of(client, "customer.created")
    assert (data["phone"], data["preferred_channel"], data["best_contact_time"]) == (
        created.json()["phone"],
        "im",
        "after 18:00",
    )
    cid, etag = created.json()["id"], created.headers["etag"]
    changed = await client.patch(f"/customers/{cid}", json={"preferred_channel": "visit"}, headers={"If-Match": etag})
    assert changed.status_code == 200, changed.text
    (updated,) = await events_of(client, "customer.updated")
    assert updated["preferred_channel"] == "visit" and "preferred_channel" in updated["changed"]
    bad = await client.patch(f"/customers/{cid}", json={"preferred_channel": "pigeon"}, headers={"If-Match": "*"})
    assert bad.status_code == 422


async def test_a_contacts_summary_is_published(client: httpx.AsyncClient) -> None:
    cid = (await client.post("/customers", json={"kind": "individual", "name": "C", "owner_id": AGENT})).json()["id"]
    contact = {"occurred_at": "2026-05-01T09:00:00Z", "channel": "phone", "direction": "outbound"}
    logged = await client.post(
        f"/customers/{cid}/interactions",
        json={**contact, "summary": "promised a visit in March"},
        headers=internal_headers(subject=AGENT, role="agent"),
    )
    assert logged.status_code == 201, logged.text
    (data,) = await events_of(client, "interaction.logged")
    assert data["summary"] == "promised a visit in March"
