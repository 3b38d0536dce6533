"""Orders and refunds: partner-safe reposting, money as decimals, refunds bounded by what was paid."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import func, select

from crm_customer.db import infra
from crm_customer.orders.models import Order

WHEN = "2026-03-01T10:00:00+08:00"


async def customer(client: httpx.AsyncClient, **extra: Any) -> dict[str, Any]:
    response = await client.post("/customers", json={"kind": "individual", "name": "Buyer", **extra})
    assert response.status_code == 201
    return response.json()


def order(customer_id: str, **extra: Any) -> dict[str, Any]:
    return {"customer_id": customer_id, "occurred_at": WHEN, "amount": "129.90", "currency": "cny", **extra}


async def count_orders(db: Any) -> int:
    async with db() as session:
        return int(await session.scalar(select(func.count()).select_from(Order)))


async def test_record_and_read_back(client: httpx.AsyncClient) -> None:
    buyer = await customer(client)
    response = await client.post("/orders", json=order(buyer["id"], quantity=2, margin="30.00", channel="store"))
    assert response.status_code == 201
    body = response.json()
    assert (body["amount"], body["currency"], body["margin"], body["quantity"]) == ("129.90", "CNY", "30.00", 2)
    assert body["occurred_at"] == "2026-03-01T02:00:00Z"
    assert response.headers["location"] == f"/orders/{body['id']}"
    assert (await client.get(f"/orders/{body['id']}")).json() == body
    listed = (await client.get(f"/customers/{buyer['id']}/orders")).json()["items"]
    assert [o["id"] for o in listed] == [body["id"]]


async def test_same_partner_reference_twice_creates_nothing_new(client: httpx.AsyncClient, db: Any) -> None:
    buyer = await customer(client, external_ref="CUST-9")
    body = order("", external_ref="ORD-1", source="shop")
    del body["customer_id"]
    body["customer_external_ref"] = "CUST-9"
    first = await client.post("/orders", json=body)
    again = await client.post("/orders", json=body)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    assert first.json()["customer_id"] == buyer["id"]
    other_source = await client.post("/orders", json={**body, "source": "marketplace"})
    assert other_source.status_code == 201
    assert await count_orders(db) == 2


async def test_bad_orders_are_refused_and_nothing_is_written(client: httpx.AsyncClient, db: Any) -> None:
    buyer = await customer(client)
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    cases = {
        "amount": order(buyer["id"], amount="-5"),
        "currency": order(buyer["id"], currency="XYZ"),
        "quantity": order(buyer["id"], quantity=-1),
        "occurred_at": order(buyer["id"], occurred_at=future),
        "naive": order(buyer["id"], occurred_at="2026-03-01T10:00:00"),
        "precision": order(buyer["id"], amount="1.234"),
        "both ids": order(buyer["id"], customer_external_ref="X"),
        "margin": order(buyer["id"], margin="500"),
        "unknown field": order(buyer["id"], discount="5"),
    }
    for name, body in cases.items():
        response = await client.post("/orders", json=body)
        assert response.status_code == 422, name
        assert response.headers["content-type"] == "application/problem+json"
    unknown = await client.post("/orders", json=order("00000000-0000-0000-0000-000000000000"))
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["field"] == "body.customer_id"
    assert await count_orders(db) == 0


async def test_refunds_are_negative_linked_and_bounded(client: httpx.AsyncClient) -> None:
    buyer = await customer(client)
    paid = (await client.post("/orders", json=order(buyer["id"], amount="100.00"))).json()
    refund = await client.post(
        f"/orders/{paid['id']}/refunds",
        json={"amount": "40.00", "occurred_at": "2026-03-02T00:00:00Z", "reason": "size"},
    )
    assert refund.status_code == 201
    assert (refund.json()["amount"], refund.json()["refund_of"]) == ("-40.00", paid["id"])
    too_much = await client.post(f"/orders/{paid['id']}/refunds", json={"amount": "60.01", "occurred_at": WHEN})
    assert too_much.status_code == 409
    assert too_much.json()["refundable"] == "60.00"
    before = await client.post(
        f"/orders/{paid['id']}/refunds", json={"amount": "1.00", "occurred_at": "2026-02-01T00:00:00Z"}
    )
    assert before.status_code == 422
    of_refund = await client.post(f"/orders/{refund.json()['id']}/refunds", json={"amount": "1", "occurred_at": WHEN})
    assert of_refund.status_code == 409
    kinds = {o["id"]: o["amount"] for o in (await client.get("/orders", params={"kind": "refund"})).json()["items"]}
    assert kinds == {refund.json()["id"]: "-40.00"}


async def test_concurrent_refunds_never_exceed_the_amount(client: httpx.AsyncClient) -> None:
    buyer = await customer(client)
    paid = (await client.post("/orders", json=order(buyer["id"], amount="100.00"))).json()
    body = {"amount": "30.00", "occurred_at": "2026-03-02T00:00:00Z"}
    responses = await asyncio.gather(*[client.post(f"/orders/{paid['id']}/refunds", json=body) for _ in range(6)])
    assert sorted(r.status_code for r in responses) == [201, 201, 201, 409, 409, 409]


async def test_patch_and_delete_need_if_match(client: httpx.AsyncClient) -> None:
    buyer = await customer(client)
    created = (await client.post("/orders", json=order(buyer["id"]))).json()
    url = f"/orders/{created['id']}"
    assert (await client.patch(url, json={"channel": "web"})).status_code == 428
    assert (await client.patch(url, json={"amount": "1"}, headers={"If-Match": '"1"'})).status_code == 422
    patched = await client.patch(url, json={"channel": "web"}, headers={"If-Match": '"1"'})
    assert patched.status_code == 200 and patched.json()["channel"] == "web"
    assert (await client.delete(url, headers={"If-Match": '"1"'})).status_code == 412
    assert (await client.delete(url, headers={"If-Match": '"2"'})).status_code == 204
    assert (await client.get(url)).status_code == 404


async def test_order_events(client: httpx.AsyncClient, db: Any) -> None:
    buyer = await customer(client)
    paid = (await client.post("/orders", json=order(buyer["id"], external_ref="E-1"))).json()
    await client.post("/orders", json=order(buyer["id"], external_ref="E-1"))  # repost: no event
    await client.post(f"/orders/{paid['id']}/refunds", json={"amount": "9.90", "occurred_at": WHEN})
    feed = (await client.get("/internal/events", params={"after": 0})).json()["items"]
    types = [e["type"] for e in feed if e["type"].startswith("order.")]
    assert types == ["order.recorded", "order.refunded"]
    refunded = feed[-1]["data"]
    assert (refunded["amount"], refunded["refund_of"], refunded["customer_id"]) == ("-9.90", paid["id"], buyer["id"])
    async with db() as session:
        assert await session.scalar(select(func.count()).select_from(infra.outbox)) == 3
