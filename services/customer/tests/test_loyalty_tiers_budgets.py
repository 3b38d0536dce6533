"""Membership tiers (by points or by hand) and care budgets per ABC class and month (专款专用):
grants charged to the class's budget, overspending only by an admin, and the spending report."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import select
from user_helpers import known_user

from crm_chassis.events import Event
from crm_chassis.testing import internal_headers
from crm_customer.db import infra
from crm_customer.lifecycle.handlers import SCORE_HANDLERS

SCORED_AT = datetime(2025, 2, 20, tzinfo=UTC)
MARCH = "2025-03"
IN_MARCH = "2025-03-10T10:00:00+08:00"
_score_versions: dict[str, int] = {}


async def events_of(db: Any, type: str) -> list[dict[str, Any]]:
    async with db() as session:
        rows = await session.scalars(select(infra.outbox.c.data).where(infra.outbox.c.type == type))
        return list(rows.all())


async def abc_class(db: Any, customer_id: str, value: str | None) -> None:
    """`score.suggestions_changed` carrying the ABC class, through the real handler."""
    version = _score_versions[customer_id] = _score_versions.get(customer_id, 0) + 1
    event = Event(
        id=uuid.uuid4(),
        seq=1,
        type="score.suggestions_changed",
        occurred_at=SCORED_AT,
        aggregate_id=customer_id,
        version=version,
        data={"customer_id": customer_id, "abc_class": value},
    )
    async with db.begin() as session:
        await SCORE_HANDLERS[event.type](session, event)


async def make_customer(client: httpx.AsyncClient, **body: Any) -> str:
    created = await client.post("/customers", json={"kind": "individual", "name": "Wang Fang", **body})
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


async def make_tier(client: httpx.AsyncClient, name: str, threshold: int, **extra: Any) -> dict[str, Any]:
    created = await client.post("/loyalty/tiers", json={"name": name, "threshold": threshold, **extra})
    assert created.status_code == 201, created.text
    return dict(created.json())


async def set_budget(client: httpx.AsyncClient, care_class: str, amount: str, period: str = MARCH) -> httpx.Response:
    return await client.put(f"/loyalty/care-budgets/{period}/{care_class}", json={"amount": amount, "currency": "CNY"})


def gift(approver: str, value: str | None = "30.00", **extra: Any) -> dict[str, Any]:
    money = {"value": value, "currency": "CNY"} if value is not None else {}
    body = {"kind": "gift", "reason": "loyalty_reward", "approver_id": approver, "granted_at": IN_MARCH}
    return {**body, **money, **extra}


def line(report: dict[str, Any], care_class: str, currency: str | None = "CNY") -> dict[str, Any]:
    found = [x for x in report["lines"] if x["care_class"] == care_class and x["currency"] == currency]
    assert len(found) == 1, report
    return dict(found[0])


# Tiers


async def test_tiers_are_admin_managed_with_unique_thresholds_and_etags(client: httpx.AsyncClient) -> None:
    benefits = [{"name": "Birthday gift", "kind": "material"}, {"name": "Priority line", "kind": "non_material"}]
    gold = await make_tier(client, "Gold", 500, benefits=benefits)
    await make_tier(client, "Silver", 100)
    listed = (await client.get("/loyalty/tiers")).json()["items"]
    assert [(t["name"], t["threshold"]) for t in listed] == [("Silver", 100), ("Gold", 500)]
    assert listed[1]["benefits"] == benefits

    taken = await client.post("/loyalty/tiers", json={"name": "Platinum", "threshold": 500})
    assert taken.status_code == 409 and taken.json()["code"] == "tier_threshold_taken"
    named = await client.post("/loyalty/tiers", json={"name": "gold", "threshold": 900})
    assert named.status_code == 409 and named.json()["code"] == "tier_name_taken"
    for bad in (
        {"name": "Neg", "threshold": -1},
        {"name": "Kind", "threshold": 1, "benefits": [{"name": "x", "kind": "cash"}]},
        {"name": "Twice", "threshold": 2, "benefits": [{"name": "x", "kind": "material"}] * 2},
        {"name": " ", "threshold": 3},
    ):
        refused = await client.post("/loyalty/tiers", json=bad)
        assert refused.status_code == 422, bad
        assert refused.headers["content-type"].startswith("application/problem+json")
    agent = await client.post(
        "/loyalty/tiers", json={"name": "Agent's", "threshold": 7}, headers=internal_headers(role="agent")
    )
    assert agent.status_code == 403
    assert len((await client.get("/loyalty/tiers")).json()["items"]) == 2

    url = f"/loyalty/tiers/{gold['id']}"
    etag = (await client.get(url)).headers["etag"]
    assert (await client.patch(url, json={"threshold": 600})).status_code == 428
    assert (await client.patch(url, json={"threshold": 600}, headers={"If-Match": '"99"'})).status_code == 412
    clash = await client.patch(url, json={"threshold": 100}, headers={"If-Match": etag})
    assert clash.status_code == 409
    assert (await client.patch(url, json={"name": None}, headers={"If-Match": etag})).status_code == 422
    changed = await client.patch(url, json={"threshold": 600}, headers={"If-Match": etag})
    assert changed.status_code == 200 and changed.json()["threshold"] == 600
    assert (await client.delete(url, headers={"If-Match": etag})).status_code == 412
    assert (await client.delete(url, headers={"If-Match": changed.headers["etag"]})).status_code == 204
    assert (await client.get(url)).status_code == 404


async def test_a_retried_tier_post_with_its_idempotency_key_adds_one_tier(client: httpx.AsyncClient) -> None:
    headers = {"Idempotency-Key": "tier-1"}
    body = {"name": "Gold", "threshold": 500}
    first = await client.post("/loyalty/tiers", json=body, headers=headers)
    again = await client.post("/loyalty/tiers", json=body, headers=headers)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json()["id"] == first.json()["id"]
    assert len((await client.get("/loyalty/tiers")).json()["items"]) == 1


async def test_the_tier_follows_the_points_balance(client: httpx.AsyncClient, db: Any) -> None:
    await make_tier(client, "Member", 0)
    silver = await make_tier(client, "Silver", 100)
    gold = await make_tier(client, "Gold", 500)
    customer = await make_customer(client)
    points = f"/customers/{customer}/points"

    first = (await client.get(f"/customers/{customer}/tier")).json()
    assert (first["tier"]["name"], first["source"], first["balance"]) == ("Member", "points", 0)
    assert (first["next_tier"]["id"], first["points_to_next"]) == (silver["id"], 100)

    await client.post(points, json={"kind": "earn", "points": 99})
    assert (await client.get(f"/customers/{customer}/tier")).json()["tier"]["name"] == "Member"
    await client.post(points, json={"kind": "earn", "points": 1})  # exactly the threshold
    reached = (await client.get(f"/customers/{customer}/tier")).json()
    assert reached["tier"]["id"] == silver["id"] and reached["points_to_next"] == 400
    await client.post(points, json={"kind": "earn", "points": 450})
    assert (await client.get(f"/customers/{customer}/tier")).json()["tier"]["id"] == gold["id"]
    await client.post(points, json={"kind": "redeem", "points": 451})
    back = (await client.get(f"/customers/{customer}/tier")).json()
    assert (back["tier"]["name"], back["next_tier"]["name"]) == ("Member", "Silver")

    changes = await events_of(db, "customer.tier_changed")
    assert [(c["previous_tier"], c["tier"], c["balance"]) for c in changes] == [
        ("Member", "Silver", 100),
        ("Silver", "Gold", 550),
        ("Gold", "Member", 99),
    ]


async def test_without_a_tier_reached_the_customer_has_none(client: httpx.AsyncClient) -> None:
    await make_tier(client, "Silver", 100)
    customer = await make_customer(client)
    found = (await client.get(f"/customers/{customer}/tier")).json()
    assert (found["tier"], found["source"], found["points_tier"]) == (None, None, None)
    assert found["next_tier"]["name"] == "Silver"


async def test_a_tier_set_by_hand_holds_until_cleared(client: httpx.AsyncClient, db: Any) -> None:
    await make_tier(client, "Member", 0)
    gold = await make_tier(client, "Gold", 500)
    manager = await known_user(db, role="manager")
    customer = await make_customer(client, owner_id=manager)
    url = f"/customers/{customer}/tier"
    as_manager = internal_headers(role="manager", subject=manager)

    agent = await known_user(db, role="agent")
    agents_own = await make_customer(client, owner_id=agent)
    as_agent = internal_headers(role="agent", subject=agent)
    refused = await client.put(f"/customers/{agents_own}/tier", json={"tier_id": gold["id"]}, headers=as_agent)
    assert refused.status_code == 403
    unknown = await client.put(url, json={"tier_id": str(uuid.uuid4())}, headers={**as_manager, "If-Match": "*"})
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "body.tier_id"
    assert (await client.get(url)).json()["source"] == "points"

    read = await client.get(url)
    assert (await client.get(url, headers={"If-None-Match": read.headers["etag"]})).status_code == 304
    hand = {"tier_id": gold["id"], "reason": "key account"}
    assert (await client.put(url, json=hand, headers=as_manager)).status_code == 428
    stale = await client.put(url, json=hand, headers={**as_manager, "If-Match": '"stale"'})
    assert stale.status_code == 412
    set_ = await client.put(url, json=hand, headers={**as_manager, "If-Match": read.headers["etag"]})
    assert set_.status_code == 200, set_.text
    body = set_.json()
    assert (body["tier"]["name"], body["source"], body["points_tier"]["name"]) == ("Gold", "manual", "Member")
    assert (body["set_by"], body["reason"]) == (manager, "key account") and body["set_at"]

    await client.post(f"/customers/{customer}/points", json={"kind": "earn", "points": 10})
    assert (await client.get(url)).json()["tier"]["name"] == "Gold"  # the points do not move a manual tier
    in_use = await client.delete(f"/loyalty/tiers/{gold['id']}", headers={"If-Match": '"1"'})
    assert in_use.status_code == 409 and in_use.json()["code"] == "tier_in_use"

    # the points moved after the tier was set: an If-Match from before them is stale
    assert (await client.delete(url, headers={**as_manager, "If-Match": set_.headers["etag"]})).status_code == 412
    cleared = await client.delete(url, headers={**as_manager, "If-Match": (await client.get(url)).headers["etag"]})
    assert cleared.status_code == 200
    assert (cleared.json()["tier"]["name"], cleared.json()["source"], cleared.json()["set_by"]) == (
        "Member",
        "points",
        None,
    )
    again = await client.delete(url, headers={**as_manager, "If-Match": "*"})  # nothing set by hand: nothing changes
    assert again.status_code == 200 and again.json()["source"] == "points"
    changes = await events_of(db, "customer.tier_changed")
    assert [(c["previous_tier"], c["tier"]) for c in changes] == [("Member", "Gold"), ("Gold", "Member")]


# Care budgets


async def test_a_grant_is_charged_to_the_budget_of_the_customers_class(client: httpx.AsyncClient, db: Any) -> None:
    approver = await known_user(db, role="manager")
    a_customer = await make_customer(client)
    b_customer = await make_customer(client)
    await abc_class(db, a_customer, "A")
    await abc_class(db, b_customer, "B")
    assert (await set_budget(client, "A", "100.00")).status_code == 201
    assert (await set_budget(client, "B", "1000.00")).status_code == 201

    granted = await client.post(f"/customers/{a_customer}/concessions", json=gift(approver, "60.00"))
    assert granted.status_code == 201, granted.text
    assert (granted.json()["care_class"], granted.json()["care_period"]) == ("A", MARCH)
    assert granted.json()["overspend"] is None
    await client.post(f"/customers/{b_customer}/concessions", json=gift(approver, "500.00"))
    # A month later is another budget period: not charged to March.
    april = await client.post(
        f"/customers/{a_customer}/concessions", json=gift(approver, "70.00", granted_at="2025-04-02")
    )
    assert april.json()["care_period"] == "2025-04"

    report = (await client.get("/analytics/care-budget", params={"period": MARCH})).json()
    a_line = line(report, "A")
    assert (a_line["budget"], a_line["spent"], a_line["remaining"], a_line["grants"]) == ("100.00", "60.00", "40.00", 1)
    assert (a_line["overspend"], a_line["budgeted"]) == ("0.00", True)
    assert line(report, "B")["spent"] == "500.00"
    assert line(report, "C", None)["spent"] == "0.00" and line(report, "C", None)["budgeted"] is False
    published = await events_of(db, "concession.granted")
    assert {(e["care_class"], e["care_period"]) for e in published} == {("A", MARCH), ("B", MARCH), ("A", "2025-04")}


async def test_the_class_is_the_one_at_grant_time(client: httpx.AsyncClient, db: Any) -> None:
    approver = await known_user(db, role="manager")
    customer = await make_customer(client)
    await abc_class(db, customer, "C")
    first = await client.post(f"/customers/{customer}/concessions", json=gift(approver, "10.00"))
    await abc_class(db, customer, "A")
    second = await client.post(f"/customers/{customer}/concessions", json=gift(approver, "20.00"))
    assert (first.json()["care_class"], second.json()["care_class"]) == ("C", "A")
    report = (await client.get("/analytics/care-budget", params={"period": MARCH})).json()
    assert (line(report, "C")["spent"], line(report, "A")["spent"]) == ("10.00", "20.00")


async def test_the_period_is_the_business_month_of_the_grant(client: httpx.AsyncClient, db: Any) -> None:
    approver = await known_user(db, role="manager")
    customer = await make_customer(client)
    # 2025-03-31 17:00 UTC is 2025-04-01 01:00 in Shanghai, the business time zone.
    late = await client.post(
        f"/customers/{customer}/concessions", json=gift(approver, granted_at="2025-03-31T17:00:00Z")
    )
    assert late.json()["care_period"] == "2025-04"


async def test_overspending_needs_an_admin(client: httpx.AsyncClient, db: Any) -> None:
    manager = await known_user(db, role="manager")
    customer = await make_customer(client, owner_id=manager)
    await abc_class(db, customer, "A")
    await set_budget(client, "A", "100.00")
    url = f"/customers/{customer}/concessions"
    as_manager = internal_headers(role="manager", subject=manager)
    assert (await client.post(url, json=gift(manager, "60.00"), headers=as_manager)).status_code == 201

    refused = await client.post(url, json=gift(manager, "40.01"), headers=as_manager)
    assert refused.status_code == 409
    assert refused.headers["content-type"].startswith("application/problem+json")
    problem = refused.json()
    assert problem["code"] == "care_budget_exceeded"
    assert (problem["amount"], problem["spent"], problem["remaining"], problem["requested"]) == (
        "100.00",
        "60.00",
        "40.00",
        "40.01",
    )
    assert (problem["budget"]["care_class"], problem["budget"]["period"]) == ("A", MARCH)
    assert len((await client.get(url)).json()["items"]) == 1  # nothing written
    assert len(await events_of(db, "concession.granted")) == 1
    # What is left can still be granted exactly.
    assert (await client.post(url, json=gift(manager, "40.00"), headers=as_manager)).status_code == 201

    admin = internal_headers(role="admin", subject="admin-1")
    over = await client.post(url, json=gift(manager, "25.00"), headers=admin)
    assert over.status_code == 201, over.text
    assert (over.json()["overspend"], over.json()["overspend_approved_by"]) == ("25.00", "admin-1")
    report = line((await client.get("/analytics/care-budget", params={"period": MARCH})).json(), "A")
    assert (report["spent"], report["remaining"], report["overspend"]) == ("125.00", "0.00", "25.00")
    assert (report["grants"], report["overspend_grants"]) == (3, 1)
    # A concession without a value is not charged and needs no budget.
    free = await client.post(url, json=gift(manager, None), headers=as_manager)
    assert free.status_code == 201 and free.json()["care_class"] is None


async def test_concurrent_grants_cannot_overspend(client: httpx.AsyncClient, db: Any) -> None:
    manager = await known_user(db, role="manager")
    customer = await make_customer(client, owner_id=manager)
    await abc_class(db, customer, "B")
    await set_budget(client, "B", "100.00")
    url = f"/customers/{customer}/concessions"
    as_manager = internal_headers(role="manager", subject=manager)
    results = await asyncio.gather(
        *[client.post(url, json=gift(manager, "30.00"), headers=as_manager) for _ in range(6)]
    )
    assert sorted(r.status_code for r in results) == [201, 201, 201, 409, 409, 409]
    assert line((await client.get("/analytics/care-budget", params={"period": MARCH})).json(), "B")["spent"] == "90.00"


async def test_an_unclassified_customer_is_charged_to_the_unclassified_line(client: httpx.AsyncClient, db: Any) -> None:
    manager = await known_user(db, role="manager")
    customer = await make_customer(client, owner_id=manager)
    url = f"/customers/{customer}/concessions"
    as_manager = internal_headers(role="manager", subject=manager)
    # No budget for the line: granted, not limited, shown as unbudgeted spending.
    unbudgeted = await client.post(url, json=gift(manager, "500.00"), headers=as_manager)
    assert unbudgeted.status_code == 201 and unbudgeted.json()["care_class"] == "unclassified"
    report = (await client.get("/analytics/care-budget", params={"period": MARCH})).json()
    shown = line(report, "unclassified")
    assert (shown["budgeted"], shown["budget"], shown["remaining"], shown["spent"]) == (False, None, None, "500.00")

    await set_budget(client, "unclassified", "600.00")
    refused = await client.post(url, json=gift(manager, "100.01"), headers=as_manager)
    assert refused.status_code == 409 and refused.json()["remaining"] == "100.00"


async def test_a_grant_in_another_currency_than_its_budget_is_refused(client: httpx.AsyncClient, db: Any) -> None:
    approver = await known_user(db, role="manager")
    customer = await make_customer(client)
    await abc_class(db, customer, "A")
    await set_budget(client, "A", "100.00")
    url = f"/customers/{customer}/concessions"
    refused = await client.post(url, json={**gift(approver, "10.00"), "currency": "USD"})
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "body.currency"
    assert (await client.get(url)).json()["items"] == []


async def test_budgets_are_set_by_admins_with_clear_errors(client: httpx.AsyncClient) -> None:
    created = await set_budget(client, "A", "100.00")
    assert created.status_code == 201 and created.headers["location"] == f"/loyalty/care-budgets/{MARCH}/A"
    url = f"/loyalty/care-budgets/{MARCH}/A"
    body = {"amount": "150.00", "currency": "CNY"}
    assert (await client.put(url, json=body)).status_code == 428  # replacing needs If-Match
    assert (await client.put(url, json=body, headers={"If-Match": '"9"'})).status_code == 412
    replaced = await client.put(url, json=body, headers={"If-Match": created.headers["etag"]})
    assert replaced.status_code == 200 and replaced.json()["amount"] == "150.00"
    for path, bad in (
        (f"/loyalty/care-budgets/{MARCH}/D", body),
        ("/loyalty/care-budgets/2025-13/A", body),
        ("/loyalty/care-budgets/2025-3/A", body),
        (f"/loyalty/care-budgets/{MARCH}/B", {"amount": "-1.00", "currency": "CNY"}),
        (f"/loyalty/care-budgets/{MARCH}/B", {"amount": "1.234", "currency": "CNY"}),
        (f"/loyalty/care-budgets/{MARCH}/B", {"amount": "1.00", "currency": "XXXX"}),
        (f"/loyalty/care-budgets/{MARCH}/B", {"amount": "1.00"}),
    ):
        refused = await client.put(path, json=bad)
        assert refused.status_code == 422, (path, bad, refused.text)
        assert refused.headers["content-type"].startswith("application/problem+json")
    forbidden = await client.put(
        f"/loyalty/care-budgets/{MARCH}/B", json=body, headers=internal_headers(role="manager")
    )
    assert forbidden.status_code == 403
    listed = (await client.get("/loyalty/care-budgets", params={"period": MARCH})).json()["items"]
    assert [(b["care_class"], b["amount"]) for b in listed] == [("A", "150.00")]
    assert (await client.get("/analytics/care-budget", params={"period": "2025-00"})).status_code == 422
    assert (await client.get("/analytics/care-budget")).status_code == 422
    assert (await client.delete(url, headers={"If-Match": replaced.headers["etag"]})).status_code == 204
    assert (await client.get(url)).status_code == 404


# Found through the gateway: strict numbers, pages like every list, the tier above the one held,
# and periods bounded as every date is.


async def test_numbers_in_bodies_are_json_numbers(client: httpx.AsyncClient) -> None:
    customer = await make_customer(client)
    points = f"/customers/{customer}/points"
    for bad in (True, "12", 12.5):
        refused = await client.post(points, json={"kind": "earn", "points": bad})
        assert refused.status_code == 422, (bad, refused.text)
        assert [e["field"] for e in refused.json()["errors"]] == ["body.points"]
    assert (await client.get(points)).json()["items"] == []
    tier = await make_tier(client, "Gold", 500)
    for body in ({"name": "Str", "threshold": "100"}, {"name": "Bool", "threshold": True}):
        refused = await client.post("/loyalty/tiers", json=body)
        assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "body.threshold", body
    url = f"/loyalty/tiers/{tier['id']}"
    patched = await client.patch(url, json={"threshold": "600"}, headers={"If-Match": '"1"'})
    assert patched.status_code == 422 and patched.json()["errors"][0]["field"] == "body.threshold"
    assert (await client.post(points, json={"kind": "earn", "points": 12})).json()["points"] == 12


async def test_the_ledger_tiers_and_budgets_are_pages_with_totals(client: httpx.AsyncClient) -> None:
    customer = await make_customer(client)
    points = f"/customers/{customer}/points"
    for n in (1, 2, 3):
        await client.post(points, json={"kind": "earn", "points": n})
    ledger = (await client.get(points, params={"include_total": "true", "limit": 2})).json()
    assert (ledger["total"], ledger["balance"], len(ledger["items"])) == (3, 6, 2) and ledger["next_cursor"]
    assert "total" not in (await client.get(points)).json()

    for name, threshold in (("Gold", 500), ("Member", 0), ("Silver", 100)):
        await make_tier(client, name, threshold)
    first = (await client.get("/loyalty/tiers", params={"limit": 2, "include_total": "true"})).json()
    assert [t["name"] for t in first["items"]] == ["Member", "Silver"] and first["total"] == 3
    rest = (await client.get("/loyalty/tiers", params={"cursor": first["next_cursor"]})).json()
    assert [t["name"] for t in rest["items"]] == ["Gold"] and rest["next_cursor"] is None

    for care_class in ("A", "B"):
        await set_budget(client, care_class, "10.00")
    await set_budget(client, "A", "10.00", period="2025-04")
    budgets = await client.get("/loyalty/care-budgets", params={"period": MARCH, "include_total": "true", "limit": 1})
    assert budgets.status_code == 200, budgets.text
    assert (budgets.json()["total"], len(budgets.json()["items"])) == (2, 1)
    unknown = await client.get("/loyalty/care-budgets", params={"period": MARCH, "colour": "red"})
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["code"] == "unknown_parameter"


async def test_the_next_tier_is_the_one_above_the_tier_held(client: httpx.AsyncClient, db: Any) -> None:
    await make_tier(client, "Member", 0)
    silver = await make_tier(client, "Silver", 100)
    gold = await make_tier(client, "Gold", 500)
    platinum = await make_tier(client, "Platinum", 2000)
    customer = await make_customer(client)
    url = f"/customers/{customer}/tier"
    await client.post(f"/customers/{customer}/points", json={"kind": "earn", "points": 463})
    by_points = (await client.get(url)).json()
    assert (by_points["tier"]["id"], by_points["next_tier"]["id"], by_points["points_to_next"]) == (
        silver["id"],
        gold["id"],
        37,
    )
    held = (await client.put(url, json={"tier_id": gold["id"]}, headers={"If-Match": "*"})).json()
    assert (held["tier"]["id"], held["next_tier"]["id"], held["points_to_next"]) == (gold["id"], platinum["id"], None)
    top = (await client.put(url, json={"tier_id": platinum["id"]}, headers={"If-Match": "*"})).json()
    assert (top["next_tier"], top["points_to_next"]) == (None, None)


async def test_a_period_is_a_month_of_the_years_dates_take(client: httpx.AsyncClient) -> None:
    for period in ("0000-01", "1899-12", "2200-01", "9999-12"):
        report = await client.get("/analytics/care-budget", params={"period": period})
        assert report.status_code == 422 and report.json()["errors"][0]["field"] == "query.period", period
        listed = await client.get("/loyalty/care-budgets", params={"period": period})
        assert listed.status_code == 422, period
        for method in ("GET", "PUT", "DELETE"):
            answered = await client.request(
                method, f"/loyalty/care-budgets/{period}/A", json={"amount": "1.00", "currency": "CNY"}
            )
            assert answered.status_code == 422, (method, period, answered.text)
            assert answered.json()["errors"][0]["field"] == "path.period"
    for period in ("1900-01", "2199-12"):
        assert (await client.get("/analytics/care-budget", params={"period": period})).status_code == 200
        assert (await set_budget(client, "A", "1.00", period=period)).status_code == 201


async def test_membership_tier_is_a_free_text_label_beside_the_loyalty_tier(client: httpx.AsyncClient) -> None:
    gold = await make_tier(client, "Gold", 500)
    customer = await make_customer(client, membership_tier="VIP (old card)")
    await client.put(f"/customers/{customer}/tier", json={"tier_id": gold["id"]}, headers={"If-Match": "*"})
    assert (await client.get(f"/customers/{customer}/tier")).json()["tier"]["name"] == "Gold"
    assert (await client.get(f"/customers/{customer}")).json()["membership_tier"] == "VIP (old card)"
