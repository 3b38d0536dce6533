"""Erasure: personal data gone everywhere in the archive, anonymised orders kept."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from sqlalchemy import select
from user_helpers import known_user

from crm_chassis.testing import internal_headers
from crm_customer.contacts.models import Contact
from crm_customer.customers.models import Customer, CustomerChange
from crm_customer.interactions.models import Interaction
from crm_customer.loyalty.models import Concession, ManualTier, PointsEntry
from crm_customer.orders.models import Order

WHEN = "2026-03-01T10:00:00Z"


async def test_erase_removes_personal_data_and_keeps_anonymised_orders(client: httpx.AsyncClient, db: Any) -> None:
    body = {
        "kind": "individual",
        "name": "Eve Erased",
        "email": "eve@example.com",
        "phone": "13800138000",
        "taboos": ["cats"],
        "notes": "prefers mornings",
        "external_ref": "EVE-1",
    }
    customer = (await client.post("/customers", json=body)).json()
    cid = customer["id"]
    org = (await client.post("/customers", json={"kind": "organization", "name": "Org"})).json()
    await client.post(
        f"/customers/{org['id']}/contacts", json={"customer_id": cid, "roles": ["user"], "phone": "13800138001"}
    )
    await client.post("/orders", json={"customer_id": cid, "occurred_at": WHEN, "amount": "20.00", "currency": "CNY"})
    contact = {"occurred_at": WHEN, "channel": "phone", "direction": "inbound", "summary": "Eve said her address is X"}
    await client.post(f"/customers/{cid}/interactions", json=contact)
    await client.patch(f"/customers/{cid}", json={"occupation": "nurse"}, headers={"If-Match": '"1"'})
    told = "Eve's sister works at the bank"
    points = await client.post(f"/customers/{cid}/points", json={"kind": "earn", "points": 10, "reason": told})
    approver = await known_user(db, role="manager")
    concession = {"kind": "gift", "reason": "goodwill", "reason_note": told, "approver_id": approver}
    granted = await client.post(f"/customers/{cid}/concessions", json=concession)
    tier = (await client.post("/loyalty/tiers", json={"name": "Gold", "threshold": 500})).json()
    by_hand = await client.put(
        f"/customers/{cid}/tier", json={"tier_id": tier["id"], "reason": told}, headers={"If-Match": "*"}
    )
    assert (points.status_code, granted.status_code, by_hand.status_code) == (201, 201, 200), by_hand.text

    agent = internal_headers(role="agent", subject=str(uuid.uuid4()))
    assert (
        await client.delete(f"/customers/{cid}", params={"erase": "true"}, headers={**agent, "If-Match": '"2"'})
    ).status_code == 404
    manager = internal_headers(role="manager")
    forbidden = await client.delete(
        f"/customers/{cid}", params={"erase": "true"}, headers={**manager, "If-Match": '"2"'}
    )
    assert forbidden.status_code in (403, 404)
    assert (await client.delete(f"/customers/{cid}", params={"erase": "true"})).status_code == 428
    erased = await client.delete(f"/customers/{cid}", params={"erase": "true"}, headers={"If-Match": '"2"'})
    assert erased.status_code == 204
    assert (await client.get(f"/customers/{cid}")).status_code == 404

    async with db() as session:
        row = await session.get(Customer, uuid.UUID(cid))
        assert (row.name, row.email, row.phone, row.taboos, row.notes, row.external_ref, row.occupation) == (
            "(erased)",
            None,
            None,
            [],
            None,
            None,
            None,
        )
        assert row.search_text == "" and row.erased_at is not None
        orders = (await session.scalars(select(Order).where(Order.customer_id == row.id))).all()
        assert [str(o.amount) for o in orders] == ["20.00"]
        summaries = (await session.scalars(select(Interaction.summary).where(Interaction.customer_id == row.id))).all()
        assert summaries == ["(erased)"]
        person = (await session.scalars(select(Contact).where(Contact.person_id == row.id))).one()
        assert (person.name, person.phone) == ("(erased)", None)
        assert (await session.scalars(select(PointsEntry.reason).where(PointsEntry.customer_id == row.id))).all() == [
            None
        ]
        notes = await session.scalars(select(Concession.reason_note).where(Concession.customer_id == row.id))
        assert notes.all() == [None]
        assert (await session.scalars(select(ManualTier.reason).where(ManualTier.customer_id == row.id))).all() == [
            None
        ]
        history = (await session.scalars(select(CustomerChange).where(CustomerChange.customer_id == row.id))).all()
        assert all(h.old is None and h.new is None for h in history)
        assert "erased" in [h.action for h in history]
    found = (await client.get("/customers", params={"q": "eve"})).json()["items"]
    assert found == []
    feed = (await client.get("/internal/events", params={"limit": 1000})).json()["items"]
    assert [e["aggregate_id"] for e in feed if e["type"] == "customer.erased"] == [cid]
    assert "eve" not in str([e["data"] for e in feed if e["type"] == "customer.erased"]).lower()
