"""Suggestions and after-sales service records through the API."""

from __future__ import annotations

import uuid

import httpx
from feedback_helpers import count, make_customer, outbox
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_feedback.service_records.models import ServiceRecord
from crm_feedback.suggestions.models import Suggestion

Db = async_sessionmaker[AsyncSession]


async def test_suggestion_lifecycle(client: httpx.AsyncClient, customer_id: uuid.UUID) -> None:
    response = await client.post(
        "/suggestions", json={"customer_id": str(customer_id), "topic": "opening hours", "text": "Open on Sundays"}
    )
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["status"] == "new" and response.headers["location"] == f"/suggestions/{created['id']}"
    url = f"/suggestions/{created['id']}"
    skip = await client.patch(url, json={"status": "adopted"}, headers={"If-Match": '"1"'})
    assert skip.status_code == 409 and skip.json()["allowed"] == ["reviewed"]
    reviewed = await client.patch(url, json={"status": "reviewed"}, headers={"If-Match": '"1"'})
    assert reviewed.status_code == 200 and reviewed.json()["decided_by"] == "agent-1"
    adopted = await client.patch(
        url, json={"status": "adopted", "reply": "From December on."}, headers={"If-Match": '"2"'}
    )
    assert adopted.json()["status"] == "adopted" and adopted.json()["reply"] == "From December on."
    final = await client.patch(url, json={"status": "declined"}, headers={"If-Match": '"3"'})
    assert final.status_code == 409 and final.json()["allowed"] == []
    assert (await client.patch(url, json={"reply": "x"})).status_code == 428
    assert (await client.get(url, headers={"If-None-Match": '"3"'})).status_code == 304


async def test_suggestion_validation_and_list(client: httpx.AsyncClient, customer_id: uuid.UUID, db: Db) -> None:
    assert (await client.post("/suggestions", json={"topic": "", "text": "x", "votes": 3})).status_code == 422
    unknown = await client.post("/suggestions", json={"customer_id": str(uuid.uuid4()), "topic": "t", "text": "x"})
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "body.customer_id"
    assert await count(db, Suggestion) == 0
    await client.post("/suggestions", json={"topic": "app", "text": "Dark mode"})  # anonymous suggestion
    await client.post("/suggestions", json={"customer_id": str(customer_id), "topic": "app", "text": "Widgets"})
    mine = (await client.get("/suggestions", params={"customer_id": str(customer_id)})).json()["items"]
    assert [s["text"] for s in mine] == ["Widgets"]
    page = (await client.get("/suggestions", params={"limit": 1})).json()
    assert len(page["items"]) == 1 and page["next_cursor"]
    rest = (await client.get("/suggestions", params={"limit": 1, "cursor": page["next_cursor"]})).json()
    assert rest["items"][0]["id"] != page["items"][0]["id"] and rest["next_cursor"] is None
    assert (await client.get("/suggestions", params={"status": "maybe"})).status_code == 422


async def test_service_record_crud(client: httpx.AsyncClient, customer_id: uuid.UUID, db: Db) -> None:
    body = {
        "customer_id": str(customer_id),
        "type": "repair",
        "service_date": "2026-11-20",
        "handler": "Wang Fang",
        "outcome": "Compressor replaced",
    }
    response = await client.post("/service-records", json=body)
    assert response.status_code == 201, response.text
    record = response.json()
    assert response.headers["location"] == f"/service-records/{record['id']}"
    event = (await outbox(db, "service_record.recorded"))[0]["data"]
    assert event["type"] == "repair" and event["customer_id"] == str(customer_id)
    url = f"/service-records/{record['id']}"
    changed = await client.patch(url, json={"outcome": "Fixed, customer satisfied"}, headers={"If-Match": '"1"'})
    assert changed.status_code == 200 and changed.json()["outcome"] == "Fixed, customer satisfied"
    assert (await client.patch(url, json={"type": None}, headers={"If-Match": '"2"'})).status_code == 422
    other = await make_customer(db)
    await client.post("/service-records", json={**body, "customer_id": str(other), "type": "technical_support"})
    listed = (await client.get("/service-records", params={"type": "repair"})).json()["items"]
    assert [r["id"] for r in listed] == [record["id"]]
    ranged = (await client.get("/service-records", params={"service_date_after": "2026-11-21"})).json()["items"]
    assert ranged == []
    assert (await client.delete(url, headers={"If-Match": '"1"'})).status_code == 412
    assert (await client.delete(url, headers={"If-Match": '"2"'})).status_code == 204
    assert (await client.get(url)).status_code == 404
    assert await count(db, ServiceRecord) == 2


async def test_service_record_validation(client: httpx.AsyncClient, customer_id: uuid.UUID, db: Db) -> None:
    response = await client.post(
        "/service-records",
        json={"customer_id": str(customer_id), "type": "massage", "service_date": "2999-01-01", "handler": ""},
    )
    assert response.status_code == 422
    fields = {e["field"] for e in response.json()["errors"]}
    assert {"body.type", "body.service_date", "body.handler"} <= fields
    assert await count(db, ServiceRecord) == 0
