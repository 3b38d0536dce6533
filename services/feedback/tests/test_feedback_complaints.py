"""Router tests of /complaints on SQLite and PostgreSQL: records, edits, history, follow-up, events."""

from __future__ import annotations

import uuid

import httpx
from feedback_helpers import PROBLEM, act, count, create_complaint, make_customer, outbox
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_feedback.complaints.models import Complaint

Db = async_sessionmaker[AsyncSession]


async def test_create_read_and_list(client: httpx.AsyncClient, customer_id: uuid.UUID, db: Db) -> None:
    response = await client.post(
        "/complaints",
        json={
            "customer_id": str(customer_id),
            "channel": "email",
            "category": "billing",
            "severity": "medium",
            "description": "  Charged twice.  ",
            "assignee_id": str(uuid.UUID(int=1)),
            "note": "called in by the customer",
        },
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert response.headers["location"] == f"/complaints/{body['id']}"
    assert response.headers["etag"] == '"1"'
    assert body["status"] == "open"
    assert body["description"] == "Charged twice."
    assert body["allowed_actions"] == ["acknowledge", "escalate"]
    assert body["deadline_source"] == "none" and body["first_response_due_at"] is None
    assert [(h["action"], h["actor"], h["note"]) for h in body["history"]] == [
        ("created", "agent-1", "called in by the customer")
    ]
    read = await client.get(f"/complaints/{body['id']}")
    assert read.status_code == 200 and read.json() == body
    assert (await client.get(f"/complaints/{body['id']}", headers={"If-None-Match": '"1"'})).status_code == 304
    listed = (await client.get("/complaints", params={"customer_id": str(customer_id)})).json()
    assert [c["id"] for c in listed["items"]] == [body["id"]]
    assert listed["items"][0]["history"][0]["action"] == "created"
    created = await outbox(db, "complaint.created")
    assert created[0]["data"]["id"] == body["id"] and created[0]["data"]["category"] == "billing"


async def test_unknown_or_deleted_customer_is_422(client: httpx.AsyncClient, db: Db) -> None:
    deleted = await make_customer(db, deleted=True)
    for cid in (uuid.uuid4(), deleted):
        response = await client.post(
            "/complaints",
            json={
                "customer_id": str(cid),
                "channel": "phone",
                "category": "delivery",
                "severity": "low",
                "description": "x",
            },
        )
        assert response.status_code == 422
        assert response.headers["content-type"] == PROBLEM
        assert [e["field"] for e in response.json()["errors"]] == ["body.customer_id"]
    assert await count(db, Complaint) == 0


async def test_bad_input_lists_every_field(client: httpx.AsyncClient, customer_id: uuid.UUID, db: Db) -> None:
    response = await client.post(
        "/complaints",
        json={
            "customer_id": str(customer_id),
            "channel": "pigeon",
            "category": "weather",
            "severity": "apocalyptic",
            "description": "",
            "status": "closed",
        },
    )
    assert response.status_code == 422
    fields = {e["field"] for e in response.json()["errors"]}
    assert {"body.channel", "body.category", "body.severity", "body.description", "body.status"} <= fields
    assert await count(db, Complaint) == 0


async def test_patch_records_changes_in_history(client: httpx.AsyncClient, customer_id: uuid.UUID) -> None:
    complaint = await create_complaint(client, customer_id)
    url = f"/complaints/{complaint['id']}"
    assert (await client.patch(url, json={"severity": "critical"})).status_code == 428
    assignee = str(uuid.uuid4())
    response = await client.patch(
        url, json={"severity": "critical", "assignee_id": assignee, "note": "VIP"}, headers={"If-Match": '"1"'}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["severity"] == "critical" and body["assignee_id"] == assignee
    assert response.headers["etag"] == '"2"'
    edit = body["history"][-1]
    assert edit["action"] == "edited" and edit["note"] == "VIP"
    assert edit["changes"]["severity"] == {"from": "high", "to": "critical"}
    assert (await client.patch(url, json={"severity": "low"}, headers={"If-Match": '"1"'})).status_code == 412
    assert (await client.patch(url, json={"category": None}, headers={"If-Match": '"2"'})).status_code == 422
    assert (await client.patch(url, json={"status": "closed"}, headers={"If-Match": '"2"'})).status_code == 422


async def test_resolve_needs_resolution_and_follow_up_after(
    client: httpx.AsyncClient, customer_id: uuid.UUID, db: Db
) -> None:
    complaint = await create_complaint(client, customer_id)
    cid = complaint["id"]
    follow = {"attitude": "satisfied", "retained": True, "note": "happy again"}
    early = await client.post(f"/complaints/{cid}/follow-up", json=follow)
    assert early.status_code == 409 and early.json()["code"] == "not_resolved"
    for action in ("acknowledge", "start"):
        assert (await act(client, cid, action)).status_code == 200
    missing = await client.post(f"/complaints/{cid}/transitions", json={"action": "resolve"})
    assert missing.status_code == 422
    assert missing.json()["errors"][0]["field"] == "body.resolution"
    resolved = await act(client, cid, "resolve", resolution="Refunded the duplicate charge.")
    assert resolved.status_code == 200
    assert resolved.json()["resolution"] == "Refunded the duplicate charge."
    assert resolved.json()["resolved_at"] is not None
    assert resolved.json()["history"][-1]["changes"] == {"resolution": "Refunded the duplicate charge."}
    response = await client.post(f"/complaints/{cid}/follow-up", json=follow)
    assert response.status_code == 200
    assert response.json()["follow_up"]["attitude"] == "satisfied"
    assert response.json()["follow_up"]["retained"] is True
    bad = await client.post(f"/complaints/{cid}/follow-up", json={"attitude": "ecstatic", "retained": "maybe"})
    assert bad.status_code == 422 and len(bad.json()["errors"]) == 2
    actions = [h["action"] for h in response.json()["history"]]
    assert actions == ["created", "acknowledge", "start", "resolve", "follow_up"]
    assert all(h["actor"] == "agent-1" for h in response.json()["history"])
    types = [e["type"] for e in await outbox(db)]
    assert types.count("complaint.status_changed") == 3
    assert types.count("complaint.resolved") == 1
    followed = await outbox(db, "complaint.followed_up")
    assert followed[0]["data"] == {
        "id": cid,
        "customer_id": str(customer_id),
        "attitude": "satisfied",
        "retained": True,
    }


async def test_filters_and_pagination(client: httpx.AsyncClient, customer_id: uuid.UUID, db: Db) -> None:
    other = await make_customer(db)
    ids = [(await create_complaint(client, customer_id, severity="low"))["id"] for _ in range(5)]
    await create_complaint(client, other, category="billing")
    await act(client, ids[0], "acknowledge")
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, str | int] = {"limit": 2, "customer_id": str(customer_id)}
        if cursor:
            params["cursor"] = cursor
        page = (await client.get("/complaints", params=params)).json()
        seen += [c["id"] for c in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ids
    assert len((await client.get("/complaints", params={"category": "billing"})).json()["items"]) == 1
    assert len((await client.get("/complaints", params={"status": "acknowledged"})).json()["items"]) == 1
    assert len((await client.get("/complaints", params={"severity": "low", "status": "open"})).json()["items"]) == 4
    assert (await client.get("/complaints", params={"status": "lost"})).status_code == 422
    assert (await client.get(f"/complaints/{uuid.uuid4()}")).status_code == 404
