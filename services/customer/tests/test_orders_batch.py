"""Partner-shaped order writes: zero-value purchases, reposts that must repeat themselves, batches."""

from __future__ import annotations

from typing import Any

import httpx
from customer_import_helpers import counts as job_counts
from customer_import_helpers import run_import
from sqlalchemy import func, select

from crm_chassis.testing import internal_headers
from crm_customer.db import infra
from crm_customer.orders.models import Order

WHEN = "2026-03-01T10:00:00+08:00"


async def customer(client: httpx.AsyncClient, **extra: Any) -> dict[str, Any]:
    response = await client.post("/customers", json={"kind": "individual", "name": "Buyer", **extra})
    assert response.status_code == 201, response.text
    return response.json()


def order(**extra: Any) -> dict[str, Any]:
    return {"occurred_at": WHEN, "amount": "129.90", "currency": "CNY", "source": "shop", **extra}


async def counts(db: Any) -> tuple[int, int]:
    async with db() as session:
        orders = await session.scalar(select(func.count()).select_from(Order))
        events = await session.scalar(
            select(func.count()).select_from(infra.outbox).where(infra.outbox.c.type.like("order.%"))
        )
        return int(orders or 0), int(events or 0)


async def test_a_zero_value_purchase_is_a_purchase_and_only_refunds_are_negative(client: httpx.AsyncClient) -> None:
    buyer = await customer(client)
    free = await client.post("/orders", json=order(customer_id=buyer["id"], amount="0.00"))
    assert free.status_code == 201 and free.json()["amount"] == "0.00"
    negative = await client.post("/orders", json=order(customer_id=buyer["id"], amount="-1.00"))
    assert negative.status_code == 422
    assert [e["field"].rsplit(".", 1)[-1] for e in negative.json()["errors"]] == ["amount"]


async def test_a_repost_with_other_values_is_a_conflict_naming_them(client: httpx.AsyncClient, db: Any) -> None:
    buyer = await customer(client, external_ref="CUST-1")
    body = order(customer_id=buyer["id"], external_ref="ORD-1", channel="store")
    assert (await client.post("/orders", json=body)).status_code == 201
    by_ref = {k: v for k, v in body.items() if k != "customer_id"} | {"customer_external_ref": "CUST-1"}
    same = await client.post("/orders", json=by_ref)  # the same customer, named the partner's way
    assert same.status_code == 200
    changed = await client.post("/orders", json=body | {"amount": "99.00", "channel": "web"})
    assert changed.status_code == 409
    problem = changed.json()
    assert (problem["code"], problem["differing"]) == ("external_ref_conflict", ["amount", "channel"])
    assert await counts(db) == (1, 1)


async def test_a_refund_reposted_with_another_amount_is_a_conflict(client: httpx.AsyncClient) -> None:
    buyer = await customer(client)
    paid = (await client.post("/orders", json=order(customer_id=buyer["id"], amount="100.00"))).json()
    url = f"/orders/{paid['id']}/refunds"
    refund = {"amount": "30.00", "occurred_at": "2026-03-02T00:00:00Z", "external_ref": "R-1"}
    assert (await client.post(url, json=refund)).status_code == 201
    assert (await client.post(url, json=refund)).status_code == 200
    other = await client.post(url, json=refund | {"amount": "31.00"})
    assert other.status_code == 409 and other.json()["differing"] == ["amount"]


async def test_a_batch_answers_each_item_in_order_and_applies_the_good_ones(client: httpx.AsyncClient, db: Any) -> None:
    buyer = await customer(client, external_ref="CUST-7")
    assert (await client.post("/orders", json=order(customer_id=buyer["id"], external_ref="OLD"))).status_code == 201
    items = [
        order(customer_external_ref="CUST-7", external_ref="A", amount="0"),  # free item: created
        order(customer_external_ref="CUST-7", external_ref="B"),  # created
        {"customer_id": buyer["id"], "amount": "1.00"},  # no date, no currency: invalid
        order(customer_id=buyer["id"], external_ref="OLD"),  # the same as before: existing
        order(customer_id=buyer["id"], external_ref="OLD", amount="5.00"),  # other values: conflict
        order(customer_external_ref="NOBODY", external_ref="C"),  # unknown customer: invalid
        {"refund_of_external_ref": "B", "source": "shop", "amount": "9.90", "occurred_at": WHEN},  # refunds B
        order(customer_external_ref="CUST-7", external_ref="B"),  # B again in the same call: existing
    ]
    response = await client.post("/orders/batch", json={"items": items})
    assert response.status_code == 200, response.text
    results = response.json()["items"]
    assert [r["index"] for r in results] == list(range(len(items)))
    statuses = [r["status"] for r in results]
    assert statuses == ["created", "created", "invalid", "existing", "conflict", "invalid", "created", "existing"]
    assert {e["field"] for e in results[2]["error"]["errors"]} == {"body.items.2.occurred_at", "body.items.2.currency"}
    assert results[4]["error"]["code"] == "external_ref_conflict" and results[4]["error"]["differing"] == ["amount"]
    assert results[5]["error"]["errors"][0]["code"] == "unknown_customer"
    assert results[7]["id"] == results[1]["id"]
    refund = (await client.get(f"/orders/{results[6]['id']}")).json()
    assert (refund["amount"], refund["refund_of"]) == ("-9.90", results[1]["id"])
    # one event per order written, as single posts write them
    assert await counts(db) == (4, 4)
    feed = (await client.get("/internal/events", params={"after": 0})).json()["items"]
    assert [e["type"] for e in feed if e["type"].startswith("order.")][-3:] == [
        "order.recorded",
        "order.recorded",
        "order.refunded",
    ]


async def test_an_atomic_batch_writes_all_or_nothing(client: httpx.AsyncClient, db: Any) -> None:
    buyer = await customer(client)
    good = [order(customer_id=buyer["id"], external_ref=f"G-{i}") for i in range(3)]
    rejected = await client.post("/orders/batch", params={"atomic": "true"}, json={"items": [*good, {"amount": "x"}]})
    assert rejected.status_code == 422
    problem = rejected.json()
    assert problem["code"] == "batch_rejected" and [i["index"] for i in problem["items"]] == [3]
    assert await counts(db) == (0, 0)
    accepted = await client.post("/orders/batch", params={"atomic": "true"}, json={"items": good})
    assert [r["status"] for r in accepted.json()["items"]] == ["created"] * 3
    assert await counts(db) == (3, 3)


async def test_batch_limits_keys_and_visibility(client: httpx.AsyncClient, db: Any) -> None:
    buyer = await customer(client)
    too_many = await client.post("/orders/batch", json={"items": [order(customer_id=buyer["id"])] * 1001})
    assert too_many.status_code == 422
    # a thousand orders with item lines are more than the 1 MiB of a single body, well within 8 MiB
    lines = [{"name": "item " * 10, "quantity": 1, "unit_price": "1.00"}] * 10
    big = {"items": [order(customer_id=buyer["id"], external_ref=f"BIG-{i}", items=lines) for i in range(1000)]}
    assert len(httpx.Request("POST", "/", json=big).content) > 1024 * 1024
    assert (await client.post("/orders", json=order(customer_id=buyer["id"], items=lines * 300))).status_code in (
        413,
        422,
    )
    keyed = {"Idempotency-Key": "batch-1"}
    first = await client.post("/orders/batch", json=big, headers=keyed)
    assert first.status_code == 200
    again = await client.post("/orders/batch", json=big, headers=keyed)
    assert again.headers.get("idempotent-replayed") == "true" and again.json() == first.json()
    assert await counts(db) == (1000, 1000)
    # an agent names a customer that is not theirs: unknown, as if it did not exist
    agent = internal_headers("agent", subject="00000000-0000-0000-0000-00000000000a")
    theirs = await client.post("/orders/batch", json={"items": [order(customer_id=buyer["id"])]}, headers=agent)
    assert theirs.json()["items"][0]["error"]["errors"][0]["code"] == "unknown_customer"


async def test_an_import_takes_zero_value_rows_and_refuses_a_changed_repost(
    client: httpx.AsyncClient, data_dir: Any
) -> None:
    buyer = await customer(client, external_ref="CUST-3")
    header = "customer_external_ref,external_ref,source,occurred_at,amount,currency\n"
    job = await run_import(
        client, "orders", header + f"CUST-3,Z-1,pos,{WHEN},0.00,CNY\nCUST-3,Z-2,pos,{WHEN},5.00,CNY\n"
    )
    assert job_counts(job) == (2, 0, 0, 0)
    changed = await run_import(
        client, "orders", header + f"CUST-3,Z-1,pos,{WHEN},0.00,CNY\nCUST-3,Z-2,pos,{WHEN},6.00,CNY\n"
    )
    assert job_counts(changed) == (0, 0, 1, 1)
    assert [(e["row"], e["code"]) for e in changed["errors"]] == [(3, "external_ref_conflict")]
    orders = (await client.get(f"/customers/{buyer['id']}/orders")).json()["items"]
    assert sorted(o["amount"] for o in orders) == ["0.00", "5.00"]


async def test_customers_batch_creates_or_upserts_by_external_ref(client: httpx.AsyncClient) -> None:
    known = await customer(client, external_ref="P-1", email="one@example.com")
    items = [
        {"kind": "individual", "name": "Buyer", "external_ref": "P-1", "email": "one@example.com"},  # a repost
        {"kind": "individual", "name": "Renamed", "external_ref": "P-1"},  # other values
        {"kind": "individual", "name": "New", "external_ref": "P-2"},
        {"kind": "robot", "name": "Nobody"},
    ]
    created = (await client.post("/customers/batch", json={"items": items})).json()["items"]
    assert [r["status"] for r in created] == ["existing", "conflict", "created", "invalid"]
    assert created[0]["id"] == known["id"] and created[1]["error"]["differing"] == ["name"]
    upserted = (await client.post("/customers/batch", params={"mode": "upsert"}, json={"items": items[:3]})).json()
    assert [r["status"] for r in upserted["items"]] == ["existing", "updated", "existing"]
    assert (await client.get(f"/customers/{known['id']}")).json()["name"] == "Renamed"
    atomic = await client.post("/customers/batch", params={"atomic": "true"}, json={"items": items})
    assert atomic.status_code == 422 and atomic.json()["code"] == "batch_rejected"
    assert (await client.get("/customers", params={"q": "New"})).json()["items"][0]["external_ref"] == "P-2"


async def test_a_plain_date_is_midnight_in_the_business_time_zone(client: httpx.AsyncClient) -> None:
    buyer = await customer(client)
    dated = await client.post("/orders", json=order(customer_id=buyer["id"], occurred_at="2026-03-01"))
    assert dated.status_code == 201
    assert dated.json()["occurred_at"] == "2026-02-28T16:00:00Z"  # 00:00 in Asia/Shanghai
    assert (
        await client.post("/orders", json=order(customer_id=buyer["id"], occurred_at="2026-02-30"))
    ).status_code == 422


async def test_contact_and_contact_log_imports_name_customers_by_external_ref(
    client: httpx.AsyncClient, data_dir: Any
) -> None:
    org = (
        await client.post("/customers", json={"kind": "organization", "name": "Acme", "external_ref": "ORG-1"})
    ).json()
    person = await customer(client, name="Li Lei", external_ref="P-9")
    contacts = (
        "organization_external_ref,customer_external_ref,name,roles\n"
        "ORG-1,P-9,,decision_maker\n"
        "ORG-404,,Han Meimei,user\n"
    )
    job = await run_import(client, "contacts", contacts)
    assert job_counts(job) == (1, 0, 0, 1)
    assert [(e["row"], e["column"], e["code"]) for e in job["errors"]] == [
        (3, "organization_external_ref", "unknown_customer")
    ]
    listed = (await client.get(f"/customers/{org['id']}/contacts")).json()["items"]
    assert [c["customer_id"] for c in listed] == [person["id"]]
    log = (
        "customer_external_ref,occurred_at,channel,direction,summary\nP-9,2026-03-02T09:00:00Z,phone,outbound,Called\n"
    )
    assert job_counts(await run_import(client, "interactions", log)) == (1, 0, 0, 0)
    entries = (await client.get(f"/customers/{person['id']}/interactions")).json()["items"]
    assert [e["summary"] for e in entries] == ["Called"]
