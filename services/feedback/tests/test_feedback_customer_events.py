"""customer.erased and customer.merged reach the complaints, suggestions, records and answers."""

from __future__ import annotations

import uuid

import httpx
from feedback_helpers import act, apply, create_complaint, make_customer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

Db = async_sessionmaker[AsyncSession]


async def test_erasure_blanks_free_text_and_keeps_numbers(
    client: httpx.AsyncClient, customer_id: uuid.UUID, db: Db
) -> None:
    complaint = await create_complaint(client, customer_id, description="My neighbour Li at No. 5 ...")
    for action in ("acknowledge", "start"):
        await act(client, complaint["id"], action, note="called Mrs Zhang on 138...")
    resolved = (await act(client, complaint["id"], "resolve", resolution="Visited her home")).json()
    token = resolved["csat_invitation"]["token"]
    await client.post(
        "/surveys/responses", json={"token": token, "answers": {"satisfaction": 2, "comment": "Li is rude"}}
    )
    await client.post("/suggestions", json={"customer_id": str(customer_id), "topic": "t", "text": "Call me at 138..."})
    await apply(db, "customer.erased", {"id": str(customer_id)})
    after = (await client.get(f"/complaints/{complaint['id']}")).json()
    assert after["description"] == "[erased]" and after["resolution"] is None
    assert all(h["note"] is None for h in after["history"])
    assert after["category"] == "delivery" and after["status"] == "resolved"
    suggestion = (await client.get("/suggestions")).json()["items"][0]
    assert suggestion["text"] == "[erased]"
    response = (await client.get(f"/surveys/{resolved['csat_invitation']['survey_id']}/responses")).json()["items"][0]
    assert response["answers"] == {"satisfaction": 2, "comment": "[erased]"}
    assert response["scores"]["csat"] == 2.0


async def test_merge_moves_records_to_the_survivor(client: httpx.AsyncClient, customer_id: uuid.UUID, db: Db) -> None:
    duplicate = await make_customer(db)
    complaint = await create_complaint(client, duplicate)
    await client.post(
        "/service-records",
        json={"customer_id": str(duplicate), "type": "repair", "service_date": "2026-11-01", "handler": "Wu"},
    )
    await apply(db, "customer.merged", {"survivor_id": str(customer_id), "duplicate_id": str(duplicate)})
    moved = await client.get(f"/complaints/{complaint['id']}")
    assert moved.json()["customer_id"] == str(customer_id)
    assert moved.headers["etag"] == '"2"', "a moved record has a new version"
    records = (await client.get("/service-records", params={"customer_id": str(customer_id)})).json()["items"]
    assert len(records) == 1
