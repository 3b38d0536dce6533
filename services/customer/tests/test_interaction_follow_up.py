"""Follow-ups can be done: by hand, or by a later contact that says it is the follow-up."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from user_helpers import known_user

from crm_chassis.testing import internal_headers

AGENT, OTHER = "6f1f7f9c-5d7e-4c53-9b8e-1b1f6f0e2a13", "6f1f7f9c-5d7e-4c53-9b8e-1b1f6f0e2a14"


@pytest.fixture(autouse=True)
async def agents_known(db: Any) -> None:
    await known_user(db, AGENT, role="agent")
    await known_user(db, OTHER, role="agent")


async def customer(client: httpx.AsyncClient, owner: str = AGENT) -> str:
    body = {"kind": "individual", "name": "C", "owner_id": owner}
    return str((await client.post("/customers", json=body)).json()["id"])


async def log(client: httpx.AsyncClient, cid: str, at: str, **extra: Any) -> httpx.Response:
    body = {"occurred_at": at, "channel": "phone", "direction": "outbound", "summary": "call", **extra}
    return await client.post(f"/customers/{cid}/interactions", json=body)


async def due(client: httpx.AsyncClient) -> list[str]:
    items = (await client.get("/interactions", params={"follow_up_before": "2026-07-01"})).json()["items"]
    return [i["id"] for i in items]


async def updated_events(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    feed = (await client.get("/internal/events", params={"limit": 500})).json()["items"]
    return [e for e in feed if e["type"] == "interaction.updated"]


async def test_done_by_hand_leaves_the_due_list(client: httpx.AsyncClient) -> None:
    cid = await customer(client)
    made = await log(client, cid, "2026-05-01T09:00:00Z", next_follow_up_date="2026-05-15")
    item = made.json()
    assert item["follow_up_done_at"] is None and await due(client) == [item["id"]]
    path = f"/interactions/{item['id']}/follow-up/done"
    assert (await client.post(path)).status_code == 428
    assert (await client.post(path, headers={"If-Match": '"0"'})).status_code == 412
    done = await client.post(path, headers={"If-Match": made.headers["etag"]})
    assert done.status_code == 200, done.text
    body = done.json()
    assert body["follow_up_done_at"] is not None and body["follow_up_done_by"] == "user-admin"
    assert body["version"] == item["version"] + 1 and done.headers["etag"] != made.headers["etag"]
    assert await due(client) == []
    (event,) = await updated_events(client)
    assert event["data"]["follow_up_done"] is True and event["version"] == body["version"]
    again = await client.post(path, headers={"If-Match": done.headers["etag"]})  # done stays done
    assert again.status_code == 200 and again.json()["version"] == body["version"]
    assert len(await updated_events(client)) == 1


async def test_no_follow_up_to_close_and_others_customers(client: httpx.AsyncClient) -> None:
    cid = await customer(client)
    plain = await log(client, cid, "2026-05-01T09:00:00Z")
    refused = await client.post(
        f"/interactions/{plain.json()['id']}/follow-up/done", headers={"If-Match": plain.headers["etag"]}
    )
    assert refused.status_code == 409 and refused.json()["code"] == "no_follow_up"
    with_follow_up = await log(client, cid, "2026-05-01T10:00:00Z", next_follow_up_date="2026-05-15")
    other = internal_headers(role="agent", subject=OTHER)
    hidden = await client.post(
        f"/interactions/{with_follow_up.json()['id']}/follow-up/done",
        headers={**other, "If-Match": with_follow_up.headers["etag"]},
    )
    assert hidden.status_code == 404


async def test_a_later_contact_that_says_so_closes_earlier_follow_ups(client: httpx.AsyncClient) -> None:
    cid, other_customer = await customer(client), await customer(client)
    first = (await log(client, cid, "2026-05-01T09:00:00Z", next_follow_up_date="2026-05-10")).json()
    second = (await log(client, cid, "2026-05-03T09:00:00Z", next_follow_up_date="2026-05-12")).json()
    elsewhere = (await log(client, other_customer, "2026-05-02T09:00:00Z", next_follow_up_date="2026-05-11")).json()
    later = (await log(client, cid, "2026-06-01T09:00:00Z", next_follow_up_date="2026-06-20")).json()
    # a plain new contact closes nothing
    await log(client, cid, "2026-05-04T09:00:00Z")
    assert set(await due(client)) == {first["id"], second["id"], elsewhere["id"], later["id"]}
    closing = await log(client, cid, "2026-05-05T09:00:00Z", closes_follow_up=True, next_follow_up_date="2026-05-30")
    assert closing.status_code == 201 and closing.json()["closes_follow_up"] is True
    # the earlier two of this customer are done; the other customer's, a later one and its own stay
    assert set(await due(client)) == {elsewhere["id"], later["id"], closing.json()["id"]}
    read = (await client.get(f"/interactions/{first['id']}")).json()
    assert read["follow_up_done_by"] == f"interaction {closing.json()['id']}"
    assert {e["aggregate_id"] for e in await updated_events(client)} == {first["id"], second["id"]}


async def test_a_new_follow_up_date_opens_the_follow_up_again(client: httpx.AsyncClient) -> None:
    cid = await customer(client)
    made = await log(client, cid, "2026-05-01T09:00:00Z", next_follow_up_date="2026-05-15")
    done = await client.post(
        f"/interactions/{made.json()['id']}/follow-up/done", headers={"If-Match": made.headers["etag"]}
    )
    moved = await client.patch(
        f"/interactions/{made.json()['id']}",
        json={"next_follow_up_date": "2026-06-15"},
        headers={"If-Match": done.headers["etag"]},
    )
    assert moved.status_code == 200 and moved.json()["follow_up_done_at"] is None
    assert await due(client) == [made.json()["id"]]
