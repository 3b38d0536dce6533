"""CSV order imports with refund rows: the API's refund, row by row, in file order, in every mode."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest
from customer_import_helpers import counts, events_of, post_csv, run_import, wait_for
from sqlalchemy import func, select
from user_helpers import known_user

from crm_chassis.testing import internal_headers
from crm_customer.imports import runner
from crm_customer.orders.models import Order

WHEN = "2026-03-01T10:00:00+08:00"
LATER = "2026-03-05T10:00:00+08:00"
HEADER = (
    "customer_external_ref,external_ref,source,occurred_at,amount,currency,refund_of_external_ref,refund_of,reason\n"
)
pytestmark = pytest.mark.usefixtures("data_dir")  # uploads go to a scratch directory


async def buyer(client: httpx.AsyncClient, ref: str = "C-1", **extra: Any) -> dict[str, Any]:
    response = await client.post("/customers", json={"kind": "individual", "name": ref, "external_ref": ref, **extra})
    assert response.status_code == 201, response.text
    return response.json()


async def purchase(client: httpx.AsyncClient, ref: str, amount: str = "100.00", **extra: Any) -> dict[str, Any]:
    body = {"customer_external_ref": "C-1", "external_ref": ref, "source": "shop", "occurred_at": WHEN}
    response = await client.post("/orders", json={**body, "amount": amount, "currency": "CNY", **extra})
    assert response.status_code == 201, response.text
    return response.json()


async def refunds(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = (await client.get("/orders", params={"kind": "refund"})).json()["items"]
    return sorted(items, key=lambda o: o["external_ref"] or "")


async def order_count(db: Any) -> int:
    async with db() as session:
        return int(await session.scalar(select(func.count()).select_from(Order)))


def errors(job: dict[str, Any]) -> list[tuple[int, str | None, str]]:
    return [(e["row"], e["column"], e["code"]) for e in job["errors"]]


async def test_refund_rows_name_their_purchase_by_reference_or_by_id(client: httpx.AsyncClient, db: Any) -> None:
    customer = await buyer(client)
    paid = await purchase(client, "P-1")
    content = HEADER + (
        f"C-1,R-1,shop,{LATER},-30.00,CNY,P-1,,wrong size\n"  # the purchase's reference in its source
        f"C-1,R-2,,{LATER},-20.00,cny,,{paid['id']},\n"  # its id (the source is the purchase's)
    )
    job = await run_import(client, "orders", content)
    assert (job["status"], counts(job), job["errors"]) == ("succeeded", (2, 0, 0, 0), [])
    assert [
        (r["external_ref"], r["amount"], r["refund_of"], r["customer_id"], r["source"], r["reason"])
        for r in await refunds(client)
    ] == [
        ("R-1", "-30.00", paid["id"], customer["id"], "shop", "wrong size"),
        ("R-2", "-20.00", paid["id"], customer["id"], "shop", None),
    ]
    # The API's refund sees the same ledger: 50.00 of the 100.00 is left.
    more = await client.post(f"/orders/{paid['id']}/refunds", json={"amount": "50.01", "occurred_at": LATER})
    assert (more.status_code, more.json()["refundable"]) == (409, "50.00")
    assert await events_of(db, "order.refunded") == 2


async def test_a_refund_may_name_a_purchase_on_an_earlier_row_never_one_further_down(
    client: httpx.AsyncClient, db: Any
) -> None:
    await buyer(client)
    content = HEADER + (
        f"C-1,P-1,shop,{WHEN},100.00,CNY,,,\n"
        f"C-1,R-1,shop,{LATER},-100.00,CNY,P-1,,\n"  # row 3: its purchase is on row 2
        f"C-1,R-2,shop,{LATER},-10.00,CNY,P-2,,\n"  # row 4: its purchase is on row 5, below it
        f"C-1,P-2,shop,{WHEN},50.00,CNY,,,\n"
    )
    job = await run_import(client, "orders", content)
    assert counts(job) == (3, 0, 0, 1)
    assert errors(job) == [(4, "refund_of_external_ref", "unknown_original")]
    assert "'P-2'" in job["errors"][0]["message"]
    assert [(r["external_ref"], r["amount"]) for r in await refunds(client)] == [("R-1", "-100.00")]
    assert await events_of(db, "order.recorded") == 2
    assert await events_of(db, "order.refunded") == 1


async def test_refunds_beyond_what_was_paid_are_refused_row_by_row(client: httpx.AsyncClient, db: Any) -> None:
    await buyer(client)
    await purchase(client, "P-1")
    content = HEADER + (
        f"C-1,R-1,shop,{LATER},-60.00,CNY,P-1,,\n"
        f"C-1,R-2,shop,{LATER},-40.01,CNY,P-1,,\n"  # 100.01 in all
        f"C-1,R-3,shop,{LATER},-40.00,CNY,P-1,,\n"
        f"C-1,R-4,shop,{LATER},-0.01,CNY,P-1,,\n"  # nothing is left
    )
    job = await run_import(client, "orders", content)
    assert counts(job) == (2, 0, 0, 2)
    assert errors(job) == [(3, "amount", "refund_exceeds_amount"), (5, "amount", "refund_exceeds_amount")]
    assert "100.01" in job["errors"][0]["message"]
    assert [r["amount"] for r in await refunds(client)] == ["-60.00", "-40.00"]
    assert await events_of(db, "order.refunded") == 2


async def test_unknown_deleted_or_invisible_purchases_are_row_errors(client: httpx.AsyncClient, db: Any) -> None:
    agent = await known_user(db, role="agent")
    await buyer(client)
    await buyer(client, "C-2", owner_id=agent)
    await purchase(client, "P-1")  # C-1's: not the agent's customer
    gone = await purchase(client, "P-2")
    assert (await client.delete(f"/orders/{gone['id']}", headers={"If-Match": '"1"'})).status_code == 204
    content = HEADER + (
        f"C-1,R-1,shop,{LATER},-1.00,CNY,,{uuid.uuid4()}\n"
        f"C-1,R-2,shop,{LATER},-1.00,CNY,NOPE,\n"
        f"C-1,R-3,web,{LATER},-1.00,CNY,P-1,\n"  # P-1 is the shop's reference, not the web's
        f"C-1,R-4,shop,{LATER},-1.00,CNY,P-2,\n"
    )
    job = await run_import(client, "orders", content)
    assert counts(job) == (0, 0, 0, 4)
    assert errors(job) == [
        (2, "refund_of", "unknown_original"),
        (3, "refund_of_external_ref", "unknown_original"),
        (4, "refund_of_external_ref", "unknown_original"),
        (5, "refund_of_external_ref", "unknown_original"),
    ]
    as_agent = internal_headers(role="agent", subject=agent)
    response = await client.post(
        "/imports",
        params={"kind": "orders"},
        files={"file": ("r.csv", HEADER + f"C-1,R-5,shop,{LATER},-1.00,CNY,P-1,\n", "text/csv")},
        headers=as_agent,
    )
    assert response.status_code == 202, response.text
    job = await wait_for(client, response.headers["location"])
    assert (counts(job), errors(job)) == ((0, 0, 0, 1), [(2, "refund_of_external_ref", "unknown_original")])
    assert await refunds(client) == []


async def test_a_refund_row_must_agree_with_its_purchase_and_never_fails_the_job(
    client: httpx.AsyncClient, db: Any
) -> None:
    await buyer(client)
    await buyer(client, "C-2")
    paid = await purchase(client, "P-1", channel="store")
    refund = await client.post(
        f"/orders/{paid['id']}/refunds", json={"amount": "1.00", "occurred_at": LATER, "external_ref": "R-0"}
    )
    assert refund.status_code == 201
    header = HEADER.rstrip("\n") + ",channel,margin\n"
    content = header + (
        f"C-1,R-1,shop,{LATER},-5.00,USD,P-1,,,,\n"  # row 2: the purchase was paid in CNY
        f"C-2,R-2,shop,{LATER},-5.00,CNY,P-1,,,,\n"  # row 3: another customer's purchase
        f"C-1,R-3,shop,{LATER},-5.00,CNY,P-1,,,web,\n"  # row 4: the purchase was in the store
        f"C-1,R-4,shop,{LATER},-5.00,CNY,R-0,,,,\n"  # row 5: a refund of a refund
        f"C-1,R-5,shop,2026-02-01T00:00:00Z,-5.00,CNY,P-1,,,,\n"  # row 6: before the purchase
        f"C-1,R-6,shop,{LATER},5.00,CNY,P-1,,,,\n"  # row 7: refunds are negative
        f"C-1,R-7,shop,{LATER},-5.00,CNY,P-1,{paid['id']},,,\n"  # row 8: two links
        f"C-1,R-8,shop,{LATER},-5.00,CNY,P-1,,,,1.00\n"  # row 9: a refund has no margin
        f"C-1,R-9,shop,{LATER},-5.00,CNY,,not-an-id,,,\n"  # row 10
        f"C-1,R-10,shop,{LATER},-NaN,CNY,P-1,,,,\n"  # row 11
        f"C-1,P-3,shop,{WHEN},5.00,CNY,,,because,,\n"  # row 12: a purchase takes no reason
    )
    job = await run_import(client, "orders", content)
    assert (job["status"], counts(job)) == ("succeeded", (0, 0, 0, 11))
    assert errors(job) == [
        (2, "currency", "currency_mismatch"),
        (3, "customer_external_ref", "customer_mismatch"),
        (4, "channel", "channel_mismatch"),
        (5, "refund_of_external_ref", "refund_of_refund"),
        (6, "occurred_at", "before_purchase"),
        (7, "amount", "refund_not_negative"),
        (8, None, "value_error"),
        (9, "margin", "not_for_refund"),
        (10, "refund_of", "uuid_parsing"),
        (11, "amount", "finite_number"),
        (12, "reason", "refund_only"),
    ]
    assert "'CNY'" in job["errors"][0]["message"]
    assert [r["external_ref"] for r in await refunds(client)] == ["R-0"]
    assert await order_count(db) == 2


async def test_sending_the_file_again_creates_nothing_new(client: httpx.AsyncClient, db: Any) -> None:
    await buyer(client)
    before = await purchase(client, "P-0")
    content = HEADER + (
        f"C-1,P-1,shop,{WHEN},80.00,CNY,,,\n"
        f"C-1,R-1,shop,{LATER},-30.00,CNY,P-1,,\n"
        f"C-1,R-2,shop,{LATER},-50.00,CNY,P-1,,\n"
        f"C-1,R-3,shop,{LATER},-100.00,CNY,,{before['id']},\n"
    )
    first = await run_import(client, "orders", content)
    assert counts(first) == (4, 0, 0, 0)
    again = await run_import(client, "orders", content, force="true")
    # Refunds that took all that was paid are recognised by their reference before any amount check.
    assert (counts(again), again["errors"]) == ((0, 0, 4, 0), [])
    assert await order_count(db) == 5
    assert (await events_of(db, "order.recorded"), await events_of(db, "order.refunded")) == (2, 3)


def chunked_file() -> str:
    return HEADER + (
        f"C-1,P-1,shop,{WHEN},100.00,CNY,,,\n"
        f"C-1,P-2,shop,{WHEN},10.00,CNY,,,\n"
        f"C-1,R-1,shop,{LATER},-70.00,CNY,P-1,,\n"  # row 4, in the second chunk of two rows
        f"C-1,R-2,shop,{LATER},-40.00,CNY,P-1,,\n"  # row 5: 110.00 in all
    )


@pytest.mark.parametrize(
    ("params", "status", "counted", "written"),
    [
        ({}, "succeeded", (3, 0, 0, 1), 3),
        ({"dry_run": "true"}, "succeeded", (3, 0, 0, 1), 0),
        ({"atomic": "true"}, "failed", (0, 0, 0, 1), 0),
    ],
    ids=["default", "dry_run", "atomic"],
)
async def test_every_mode_finds_purchases_of_earlier_chunks_and_reports_the_same_errors(
    client: httpx.AsyncClient,
    db: Any,
    monkeypatch: pytest.MonkeyPatch,
    params: dict[str, str],
    status: str,
    counted: tuple[int, int, int, int],
    written: int,
) -> None:
    monkeypatch.setattr(runner, "CHUNK_ROWS", 2)
    await buyer(client)
    job = await run_import(client, "orders", chunked_file(), **params)
    assert (job["status"], counts(job), job["progress"]) == (status, counted, {"done": 4, "total": 4})
    assert errors(job) == [(5, "amount", "refund_exceeds_amount")]
    assert await order_count(db) == written
    assert await events_of(db, "order.recorded") + await events_of(db, "order.refunded") == written


async def test_an_atomic_import_commits_refunds_of_purchases_in_earlier_chunks(
    client: httpx.AsyncClient, db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runner, "CHUNK_ROWS", 2)
    await buyer(client)
    without_the_bad_row = chunked_file().rsplit("C-1,R-2", 1)[0]
    job = await run_import(client, "orders", without_the_bad_row, atomic="true")
    assert (job["status"], counts(job), job["errors"]) == ("succeeded", (3, 0, 0, 0), [])
    assert [(r["external_ref"], r["amount"]) for r in await refunds(client)] == [("R-1", "-70.00")]
    assert (await events_of(db, "order.recorded"), await events_of(db, "order.refunded")) == (2, 1)


async def test_a_refund_row_publishes_order_refunded_as_the_api_does(client: httpx.AsyncClient) -> None:
    customer = await buyer(client)
    by_api = await purchase(client, "P-1", channel="store", location="Shanghai")
    by_file = await purchase(client, "P-2", channel="store", location="Shanghai")
    body = {"amount": "12.50", "occurred_at": LATER, "external_ref": "R-1", "reason": "late"}
    assert (await client.post(f"/orders/{by_api['id']}/refunds", json=body)).status_code == 201
    content = HEADER + f"C-1,R-2,shop,{LATER},-12.50,CNY,P-2,,late\n"
    assert counts(await run_import(client, "orders", content)) == (1, 0, 0, 0)
    feed = (await client.get("/internal/events", params={"after": 0})).json()["items"]
    api_event, file_event = [e for e in feed if e["type"] == "order.refunded"]
    refund = (await client.get("/orders", params={"external_ref": "R-2"})).json()["items"][0]
    assert (file_event["aggregate_id"], file_event["version"]) == (refund["id"], api_event["version"])
    assert file_event["data"] == {
        **api_event["data"],
        "id": refund["id"],
        "external_ref": "R-2",
        "refund_of": by_file["id"],
    }
    assert (file_event["data"]["amount"], file_event["data"]["customer_id"]) == ("-12.50", customer["id"])


async def test_concurrent_refund_imports_never_exceed_what_was_paid(client: httpx.AsyncClient) -> None:
    await buyer(client)
    await purchase(client, "P-1")
    files = [HEADER + f"C-1,R-{n},shop,{LATER},-60.00,CNY,P-1,,\n" for n in range(3)]
    started = await asyncio.gather(*[post_csv(client, "orders", f) for f in files])
    jobs = [await wait_for(client, r.headers["location"]) for r in started]
    assert sorted(counts(j) for j in jobs) == [(0, 0, 0, 1), (0, 0, 0, 1), (1, 0, 0, 0)]
    assert [r["amount"] for r in await refunds(client)] == ["-60.00"]
