"""Hostile input: dates at the edges of the calendar and control characters are refused with 422
and change nothing, on both databases."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from crm_customer.customers.models import Customer
from crm_customer.orders.models import Order


async def buyer(client: httpx.AsyncClient) -> str:
    response = await client.post("/customers", json={"kind": "individual", "name": "Buyer"})
    assert response.status_code == 201
    return str(response.json()["id"])


async def count(db: Any, model: type) -> int:
    async with db() as session:
        return int(await session.scalar(select(func.count()).select_from(model)))


def in_future(**delta: float) -> str:
    return (datetime.now(UTC) + timedelta(**delta)).isoformat()


@pytest.mark.parametrize(
    "occurred_at",
    [
        "0001-01-01T00:00:00Z",  # the poison order that stopped scoring
        "0001-01-01T00:00:00+08:00",
        "0001-01-01",
        "1899-12-31T23:59:59Z",
        "9999-12-31T23:59:59-08:00",
        "9999-12-31",
    ],
)
async def test_orders_outside_the_calendar_are_refused(client: httpx.AsyncClient, db: Any, occurred_at: str) -> None:
    customer_id = await buyer(client)
    body = {"customer_id": customer_id, "occurred_at": occurred_at, "amount": "10.00", "currency": "CNY"}
    response = await client.post("/orders", json=body)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert [e["field"] for e in response.json()["errors"]] == ["body.occurred_at"]
    batch = await client.post("/orders/batch", json={"items": [body]})
    assert batch.json()["items"][0]["status"] == "invalid"
    assert await count(db, Order) == 0


async def test_an_order_within_the_skew_is_kept_and_one_beyond_it_is_not(client: httpx.AsyncClient) -> None:
    customer_id = await buyer(client)
    base = {"customer_id": customer_id, "amount": "10.00", "currency": "CNY"}
    assert (await client.post("/orders", json={**base, "occurred_at": in_future(minutes=1)})).status_code == 201
    late = await client.post("/orders", json={**base, "occurred_at": in_future(minutes=10)})
    assert late.status_code == 422
    assert "future" in late.json()["errors"][0]["message"]
    first = await client.post("/orders", json={**base, "occurred_at": "1900-01-01T00:00:00Z"})
    assert first.status_code == 201


@pytest.mark.parametrize("birth_date", ["0001-01-01", "1899-12-31", "9999-12-31"])
async def test_birth_dates_outside_1900_to_today_are_refused(
    client: httpx.AsyncClient, db: Any, birth_date: str
) -> None:
    response = await client.post("/customers", json={"kind": "individual", "name": "A", "birth_date": birth_date})
    assert response.status_code == 422
    assert await count(db, Customer) == 0


async def test_a_birth_date_tomorrow_is_refused(client: httpx.AsyncClient) -> None:
    tomorrow = (datetime.now(UTC).date() + timedelta(days=1)).isoformat()
    response = await client.post("/customers", json={"kind": "individual", "name": "A", "birth_date": tomorrow})
    assert response.status_code == 422


async def test_interactions_and_filters_are_bounded(client: httpx.AsyncClient) -> None:
    customer_id = await buyer(client)
    base = {"customer_id": customer_id, "channel": "phone", "direction": "inbound", "summary": "call"}
    ancient = await client.post("/interactions", json={**base, "occurred_at": "0001-01-01T00:00:00Z"})
    assert ancient.status_code == 422
    future = await client.post("/interactions", json={**base, "occurred_at": in_future(days=2)})
    assert future.status_code == 422
    follow_up = await client.post(
        "/interactions",
        json={**base, "occurred_at": "2020-01-01T00:00:00Z", "next_follow_up_date": date(9999, 1, 1).isoformat()},
    )
    assert follow_up.status_code == 422
    listed = await client.get("/orders", params={"occurred_after": "0001-01-01T00:00:00Z"})
    assert listed.status_code == 422


CONTROL_BODIES = {
    "nul in a name": {"kind": "individual", "name": "A\u0000B"},
    "escape in a name": {"kind": "individual", "name": "A\u001bB"},
    "lone surrogate": {"kind": "individual", "name": "A\ud800"},
    "nul in a tag": {"kind": "individual", "name": "A", "tags": ["x\u0000"]},
    "nul in a custom field's key": {"kind": "individual", "name": "A", "custom_fields": {"k\u0000": "v"}},
    "nul in an unknown field": {"kind": "individual", "name": "A", "x": "\u0000"},
}


@pytest.mark.parametrize("name", CONTROL_BODIES)
async def test_control_characters_in_a_body_are_refused(client: httpx.AsyncClient, db: Any, name: str) -> None:
    import json

    raw = json.dumps(CONTROL_BODIES[name])  # \u escapes, as clients send them
    response = await client.post("/customers", content=raw, headers={"Content-Type": "application/json"})
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["code"] == "validation_failed"
    assert {e["code"] for e in body["errors"]} == {"control_character"}
    assert body["request_id"] == response.headers["x-request-id"]
    assert await count(db, Customer) == 0


@pytest.mark.parametrize("raw", [b"\xff\xfe", b'{"kind": "individual", "name": "\xff"}', b"\xfe\xff\x00{"])
async def test_a_body_that_is_not_utf8_is_a_400(client: httpx.AsyncClient, db: Any, raw: bytes) -> None:
    # \xff\xfe and \xfe\xff read as UTF-16 byte-order marks to json.loads: still not UTF-8
    response = await client.post("/customers", content=raw, headers={"Content-Type": "application/json"})
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "bad_request"
    assert await count(db, Customer) == 0


async def test_tabs_and_line_breaks_are_free_text(client: httpx.AsyncClient) -> None:
    customer_id = await buyer(client)
    summary = "called\tback\r\nsecond line"
    response = await client.post(
        "/interactions",
        json={
            "customer_id": customer_id,
            "channel": "phone",
            "direction": "inbound",
            "summary": summary,
            "occurred_at": "2020-01-01T00:00:00Z",
        },
    )
    assert response.status_code == 201, response.text
    assert response.json()["summary"] == summary


@pytest.mark.parametrize("query", ["q=a%00b", "q=%1b", "tag=x%0Ay", "cursor=%00"])
async def test_control_characters_in_the_query_are_refused(client: httpx.AsyncClient, query: str) -> None:
    response = await client.get(f"/customers?{query}")
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == f"query.{query.split('=')[0]}"


async def test_control_characters_in_the_path_are_refused(client: httpx.AsyncClient) -> None:
    response = await client.get("/customers/abc%00def")
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {"field": "path", "code": "control_character", "message": response.json()["errors"][0]["message"]}
    ]


@pytest.mark.parametrize("cell", ["A\x00B", "A\x07B"])
async def test_control_characters_in_a_csv_are_refused_before_any_job(
    client: httpx.AsyncClient, db: Any, data_dir: Any, cell: str
) -> None:
    from customer_import_helpers import post_csv

    filler = "".join(f"Name {i},individual\n" for i in range(5000))  # past the binary sniff of the first 64 KiB
    response = await post_csv(client, "customers", f"name,kind\n{filler}{cell},individual\n")
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["code"] == "control_character"
    assert "line 5002" in response.json()["errors"][0]["message"]
    assert await count(db, Customer) == 0
