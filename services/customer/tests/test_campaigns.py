"""Campaigns: a target over the archive, members taken in by a start (consent respected), responses,
orders naming a campaign or attributed by window, and the report's numbers worked out by hand."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
from customer_import_helpers import counts, run_import, wait_for
from sqlalchemy import select, update
from user_helpers import known_user

from crm_chassis.events import Event
from crm_chassis.testing import internal_headers
from crm_customer.campaigns.models import Campaign
from crm_customer.db import infra
from crm_customer.lifecycle.handlers import SCORE_HANDLERS

SCORED_AT = datetime(2026, 2, 20, tzinfo=UTC)
_score_versions: dict[str, int] = {}


def campaign_body(**extra: Any) -> dict[str, Any]:
    body = {"name": "Spring win-back", "channel": "sms", "starts_on": "2026-03-01", "ends_on": "2026-03-31"}
    return body | extra


async def make_campaign(client: httpx.AsyncClient, headers: dict[str, str] | None = None, **extra: Any) -> Any:
    created = await client.post("/campaigns", json=campaign_body(**extra), headers=headers)
    assert created.status_code == 201, created.text
    return created.json()


async def make_customer(client: httpx.AsyncClient, consent: bool = True, **extra: Any) -> str:
    body = {"kind": "individual", "name": "Zhang Wei", "marketing_consent": consent, **extra}
    created = await client.post("/customers", json=body)
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


async def start(client: httpx.AsyncClient, campaign_id: str, headers: dict[str, str] | None = None) -> Any:
    started = await client.post(f"/campaigns/{campaign_id}/start", headers=headers)
    assert started.status_code == 202, started.text
    assert started.headers["location"] == f"/campaigns/{campaign_id}/starts/{started.json()['id']}"
    return await wait_for(client, started.headers["location"])


async def respond(client: httpx.AsyncClient, campaign_id: str, customer_id: str, type: str, at: str) -> Any:
    body = {"customer_id": customer_id, "type": type, "occurred_at": at}
    return await client.post(f"/campaigns/{campaign_id}/responses", json=body)


async def buy(client: httpx.AsyncClient, customer_id: str, at: str, amount: str, **extra: Any) -> str:
    body = {"customer_id": customer_id, "occurred_at": at, "amount": amount, "currency": "CNY", **extra}
    created = await client.post("/orders", json=body)
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


async def scoring_says(db: Any, customer_id: str, **data: Any) -> None:
    """`score.suggestions_changed` as scoring would send it, through the real handler."""
    version = _score_versions[customer_id] = _score_versions.get(customer_id, 0) + 1
    payload = {"customer_id": customer_id, "value_segment": None, "abc_class": None, "churn_risk": None, **data}
    event = Event(
        id=uuid.uuid4(),
        seq=1,
        type="score.suggestions_changed",
        occurred_at=SCORED_AT,
        aggregate_id=customer_id,
        version=version,
        data=payload,
    )
    async with db.begin() as session:
        await SCORE_HANDLERS[event.type](session, event)


async def events_of(db: Any, type: str) -> list[dict[str, Any]]:
    async with db() as session:
        rows = await session.scalars(select(infra.outbox.c.data).where(infra.outbox.c.type == type))
        return list(rows.all())


def problem_fields(response: httpx.Response) -> set[str]:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    return {error["field"] for error in response.json()["errors"]}


async def test_create_read_list_change_and_delete(client: httpx.AsyncClient, db: Any) -> None:
    owner = await known_user(db, role="manager", name="Wang Fang")
    created = await client.post(
        "/campaigns",
        json=campaign_body(goal="bring back lapsed buyers", budget="5000", actual_cost="1200.50", owner_id=owner),
    )

    assert created.status_code == 201, created.text
    body = created.json()
    assert created.headers["location"] == f"/campaigns/{body['id']}"
    assert (body["status"], body["budget"], body["actual_cost"], body["currency"]) == (
        "draft",
        "5000.00",
        "1200.50",
        "CNY",
    )
    assert (body["owner_id"], body["member_count"], body["target"]["tag"]) == (owner, 0, None)
    read = await client.get(body["location"] if "location" in body else f"/campaigns/{body['id']}")
    assert read.status_code == 200
    assert (read.json()["budget"], read.json()["actual_cost"]) == (body["budget"], body["actual_cost"])
    etag = read.headers["etag"]
    assert (await client.get(f"/campaigns/{body['id']}", headers={"If-None-Match": etag})).status_code == 304
    other = await make_campaign(client, name="Trade fair", channel="event")
    await client.patch(f"/campaigns/{other['id']}", json={"status": "cancelled"}, headers={"If-Match": '"1"'})

    drafts = (await client.get("/campaigns", params={"status": "draft"})).json()["items"]
    assert [c["id"] for c in drafts] == [body["id"]]
    everything = (await client.get("/campaigns", params={"limit": 1})).json()
    assert [c["id"] for c in everything["items"]] == [other["id"]]  # newest first
    rest = (await client.get("/campaigns", params={"limit": 1, "cursor": everything["next_cursor"]})).json()
    assert [c["id"] for c in rest["items"]] == [body["id"]]
    assert (await client.get("/campaigns", params={"statuss": "draft"})).status_code == 422

    path = f"/campaigns/{body['id']}"
    assert (await client.patch(path, json={"name": "x"})).status_code == 428
    assert (await client.patch(path, json={"name": "x"}, headers={"If-Match": '"9"'})).status_code == 412
    changed = await client.patch(path, json={"name": "Spring win-back 2", "budget": None}, headers={"If-Match": etag})
    assert changed.status_code == 200, changed.text
    assert (changed.json()["name"], changed.json()["budget"]) == ("Spring win-back 2", None)
    assert changed.headers["etag"] != etag

    deleted = await client.delete(path, headers={"If-Match": changed.headers["etag"]})
    assert deleted.status_code == 204
    assert (await client.get(path)).json()["code"] == "campaign_not_found"


async def test_a_retried_create_makes_one_campaign(client: httpx.AsyncClient) -> None:
    headers = {"Idempotency-Key": "campaign-1"}
    first = await client.post("/campaigns", json=campaign_body(), headers=headers)
    again = await client.post("/campaigns", json=campaign_body(), headers=headers)
    other = await client.post("/campaigns", json=campaign_body(name="Another"), headers=headers)

    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json()["id"] == first.json()["id"]
    assert other.status_code == 422
    assert len((await client.get("/campaigns")).json()["items"]) == 1


async def test_invalid_input_is_a_problem_listing_every_field(client: httpx.AsyncClient, db: Any) -> None:
    wrong = await client.post(
        "/campaigns",
        json={
            "name": "",
            "channel": "fax",
            "starts_on": "2026-03-01",
            "ends_on": "2026-02-01",
            "budget": "-1",
            "currency": "XXQ",
            "target": {"tagg": "vip", "churn_risk_gte": 2},
            "colour": "red",
        },
    )
    assert problem_fields(wrong) == {
        f"body.{name}" for name in ("name", "channel", "budget", "currency", "target.tagg", "target.churn_risk_gte")
    } | {"body.colour", "body.ends_on"}
    backwards = await client.post("/campaigns", json=campaign_body(ends_on="2026-02-01"))
    assert problem_fields(backwards) == {"body.ends_on"}
    assert "ends_on cannot precede starts_on" in backwards.json()["errors"][0]["message"]

    analyst = await known_user(db, role="analyst")
    for owner in (analyst, str(uuid.uuid4())):
        refused = await client.post("/campaigns", json=campaign_body(owner_id=owner))
        assert refused.status_code == 422
        assert refused.json()["code"] == "invalid_owner"
        assert refused.json()["errors"][0]["field"] == "body.owner_id"

    campaign = await make_campaign(client)
    path = f"/campaigns/{campaign['id']}"
    patched = await client.patch(path, json={"ends_on": "2026-01-01"}, headers={"If-Match": '"1"'})
    assert problem_fields(patched) == {"body.ends_on"}
    assert problem_fields(await client.patch(path, json={"name": None}, headers={"If-Match": '"1"'})) == {"body.name"}


async def test_money_is_answered_in_cents_by_writes_as_by_reads(client: httpx.AsyncClient) -> None:
    created = await make_campaign(client, budget="30", actual_cost="1000")
    path = f"/campaigns/{created['id']}"
    assert (created["budget"], created["actual_cost"]) == ("30.00", "1000.00")
    read = (await client.get(path)).json()
    assert (read["budget"], read["actual_cost"]) == ("30.00", "1000.00")

    changed = await client.patch(path, json={"budget": "45.5", "actual_cost": 7}, headers={"If-Match": '"1"'})
    assert changed.status_code == 200, changed.text
    assert (changed.json()["budget"], changed.json()["actual_cost"]) == ("45.50", "7.00")
    read = (await client.get(path)).json()
    assert (read["budget"], read["actual_cost"]) == ("45.50", "7.00")
    assert problem_fields(await client.post("/campaigns", json=campaign_body(budget="1.234"))) == {"body.budget"}


async def test_status_moves_only_forward_and_running_only_by_a_start(client: httpx.AsyncClient, db: Any) -> None:
    campaign = await make_campaign(client)
    path = f"/campaigns/{campaign['id']}"
    for status in ("running", "finished"):
        refused = await client.patch(path, json={"status": status}, headers={"If-Match": '"1"'})
        assert (refused.status_code, refused.json()["code"]) == (409, "invalid_transition")

    await start(client, campaign["id"])
    running = (await client.get(path)).json()
    assert running["status"] == "running"
    again = await client.post(f"{path}/start")
    assert (again.status_code, again.json()["code"]) == (409, "campaign_not_draft")
    fixed = await client.patch(path, json={"target": {"tag": "vip"}}, headers={"If-Match": f'"{running["version"]}"'})
    assert (fixed.status_code, fixed.json()["code"]) == (409, "target_fixed")
    assert (await client.delete(path, headers={"If-Match": f'"{running["version"]}"'})).json()["code"] == (
        "campaign_running"
    )

    finished = await client.patch(path, json={"status": "finished"}, headers={"If-Match": f'"{running["version"]}"'})
    assert finished.status_code == 200, finished.text
    assert finished.json()["finished_at"] is not None
    [event] = await events_of(db, "campaign.finished")
    assert (event["id"], event["status"]) == (campaign["id"], "finished")
    back = await client.patch(path, json={"status": "running"}, headers={"If-Match": finished.headers["etag"]})
    assert back.status_code == 409


async def test_a_start_takes_in_the_target_with_consent_and_counts_the_rest(client: httpx.AsyncClient, db: Any) -> None:
    consenting = [await make_customer(client, tags=["vip"]) for _ in range(3)]
    without = await make_customer(client, consent=False, tags=["vip"])
    await make_customer(client, tags=["other"])
    campaign = await make_campaign(client, target={"tag": "vip"})

    job = await start(client, campaign["id"])

    assert job["status"] == "succeeded", job
    assert job["progress"] == {"done": 4, "total": 4, "added": 3, "excluded": 1}
    read = (await client.get(f"/campaigns/{campaign['id']}")).json()
    assert (read["status"], read["member_count"], read["excluded_without_consent"]) == ("running", 3, 1)
    members = (await client.get(f"/campaigns/{campaign['id']}/members", params={"limit": 2})).json()
    more = (
        await client.get(f"/campaigns/{campaign['id']}/members", params={"limit": 2, "cursor": members["next_cursor"]})
    ).json()
    listed = [m["customer_id"] for m in members["items"] + more["items"]]
    assert sorted(listed) == sorted(consenting)
    assert without not in listed
    [started] = await events_of(db, "campaign.started")
    assert (started["id"], started["members"], started["excluded_without_consent"]) == (campaign["id"], 3, 1)
    # the members stay those of the start: a new customer of the target is not taken in
    await make_customer(client, tags=["vip"])
    assert (await client.get(f"/campaigns/{campaign['id']}")).json()["member_count"] == 3


async def test_the_target_selects_by_scorings_segment_abc_class_and_churn_risk(
    client: httpx.AsyncClient, db: Any
) -> None:
    fits = await make_customer(client)
    too_safe = await make_customer(client)
    other_class = await make_customer(client)
    await make_customer(client)  # never scored
    await scoring_says(db, fits, value_segment="big_at_risk", abc_class="A", churn_risk=0.7)
    await scoring_says(db, too_safe, value_segment="big_at_risk", abc_class="A", churn_risk=0.2)
    await scoring_says(db, other_class, value_segment="big_at_risk", abc_class="B", churn_risk=0.8)
    target = {"value_segment": "big_at_risk", "abc_class": "A", "churn_risk_gte": 0.5, "churn_risk_lte": 0.9}
    campaign = await make_campaign(client, target=target)

    job = await start(client, campaign["id"])

    assert job["progress"]["added"] == 1
    members = (await client.get(f"/campaigns/{campaign['id']}/members")).json()["items"]
    assert [m["customer_id"] for m in members] == [fits]
    bad = await client.post("/campaigns", json=campaign_body(target={"churn_risk_gte": 0.8, "churn_risk_lte": 0.2}))
    assert bad.status_code == 422


async def test_a_risen_churn_risk_alone_moves_the_customer_into_a_risk_target(
    client: httpx.AsyncClient, db: Any
) -> None:
    customer = await make_customer(client)
    await scoring_says(db, customer, value_segment="loyal_long_term", abc_class="A", churn_risk=0.2)
    raised = Event(
        id=uuid.uuid4(),
        seq=2,
        type="score.churn_risk_raised",
        occurred_at=SCORED_AT,
        aggregate_id=customer,
        version=_score_versions[customer] + 1,
        data={"customer_id": customer, "churn_risk": 0.75, "reasons": ["overdue"], "lifecycle_suggestion": None},
    )
    async with db.begin() as session:
        await SCORE_HANDLERS[raised.type](session, raised)

    assert (await client.get(f"/customers/{customer}")).json()["suggested_churn_risk"] == 0.75
    campaign = await make_campaign(client, target={"churn_risk_gte": 0.7})
    assert (await start(client, campaign["id"]))["progress"]["added"] == 1


async def test_responses_need_a_member_and_unsubscribing_withdraws_consent(client: httpx.AsyncClient, db: Any) -> None:
    member = await make_customer(client, tags=["vip"])
    outsider = await make_customer(client)
    campaign = await make_campaign(client, target={"tag": "vip"})
    early = await respond(client, campaign["id"], member, "opened", "2026-03-02T10:00:00Z")
    assert (early.status_code, early.json()["code"]) == (409, "campaign_not_started")
    await start(client, campaign["id"])

    stranger = await respond(client, campaign["id"], outsider, "opened", "2026-03-02T10:00:00Z")
    assert (stranger.status_code, stranger.json()["code"]) == (409, "not_a_member")
    future = await respond(client, campaign["id"], member, "opened", "2199-03-02T10:00:00Z")
    assert problem_fields(future) == {"body.occurred_at"}
    liked = await respond(client, campaign["id"], member, "liked", "2026-03-02T10:00:00Z")
    assert problem_fields(liked) == {"body.type"}

    opened = await respond(client, campaign["id"], member, "opened", "2026-03-02T10:00:00Z")
    assert opened.status_code == 201, opened.text
    assert (opened.json()["channel"], opened.json()["type"]) == ("sms", "opened")
    assert (await client.get(opened.headers["location"])).json()["id"] == opened.json()["id"]
    left = await respond(client, campaign["id"], member, "unsubscribed", "2026-03-03T10:00:00+08:00")
    assert left.status_code == 201, left.text

    customer = (await client.get(f"/customers/{member}")).json()
    assert customer["marketing_consent"] is False
    history = (await client.get(f"/customers/{member}/history")).json()["items"]
    assert [(h["field"], h["old"], h["new"]) for h in history if h["field"] == "marketing_consent"] == [
        ("marketing_consent", True, False)
    ]
    updates = [e for e in await events_of(db, "customer.updated") if e["id"] == member]
    assert [e["changed"] for e in updates] == [["marketing_consent"]]
    recorded = await events_of(db, "campaign.response_recorded")
    assert [(e["customer_id"], e["type"]) for e in recorded] == [(member, "opened"), (member, "unsubscribed")]
    members = (await client.get(f"/campaigns/{campaign['id']}/members")).json()["items"]
    assert members[0]["last_response_at"] == "2026-03-03T02:00:00Z"
    listed = (await client.get(f"/campaigns/{campaign['id']}/responses")).json()["items"]
    assert [r["type"] for r in listed] == ["unsubscribed", "opened"]


async def test_a_response_cannot_precede_the_campaign_but_may_come_after_its_end(
    client: httpx.AsyncClient, db: Any
) -> None:
    member = await make_customer(client, tags=["dec"])
    campaign = await make_campaign(client, target={"tag": "dec"}, starts_on="2025-12-01", ends_on="2025-12-31")
    cid = campaign["id"]
    await start(client, cid)

    long_before = await respond(client, cid, member, "opened", "2020-01-01")
    assert problem_fields(long_before) == {"body.occurred_at"}
    [error] = long_before.json()["errors"]
    assert error["code"] == "before_campaign_start"
    assert "2025-12-01" in error["message"], error
    # the start is midnight of starts_on in the business time zone (UTC+8 here)
    just_before = await respond(client, cid, member, "opened", "2025-11-30T15:59:59Z")
    assert problem_fields(just_before) == {"body.occurred_at"}
    assert (await client.get(f"/campaigns/{cid}/responses")).json()["items"] == []
    assert await events_of(db, "campaign.response_recorded") == []

    first = await respond(client, cid, member, "delivered", "2025-11-30T16:00:00Z")
    assert first.status_code == 201, first.text
    assert (await respond(client, cid, member, "opened", "2025-12-01")).status_code == 201
    running = (await client.get(f"/campaigns/{cid}")).json()
    finished = await client.patch(
        f"/campaigns/{cid}", json={"status": "finished"}, headers={"If-Match": f'"{running["version"]}"'}
    )
    assert finished.status_code == 200, finished.text
    late = await respond(client, cid, member, "clicked", "2026-02-15T10:00:00Z")  # mail opened late
    assert late.status_code == 201, late.text
    assert (await respond(client, cid, member, "clicked", "2199-01-01")).status_code == 422  # not in the future


async def test_a_campaign_started_before_its_starts_on_takes_responses_from_its_start(
    client: httpx.AsyncClient, db: Any
) -> None:
    member = await make_customer(client, tags=["early"])
    campaign = await make_campaign(client, target={"tag": "early"}, starts_on="2025-06-10", ends_on="2025-06-30")
    cid = campaign["id"]
    await start(client, cid)
    async with db.begin() as session:  # as if started on 2025-06-05: the moment of a start is the clock's
        at = datetime(2025, 6, 5, 9, 0, tzinfo=UTC)
        await session.execute(update(Campaign).where(Campaign.id == uuid.UUID(cid)).values(started_at=at))

    after_start = await respond(client, cid, member, "delivered", "2025-06-05T09:30:00Z")
    assert after_start.status_code == 201, after_start.text
    before_start = await respond(client, cid, member, "opened", "2025-06-05T08:59:00Z")
    assert problem_fields(before_start) == {"body.occurred_at"}
    assert "2025-06-05T09:00:00Z" in before_start.json()["errors"][0]["message"]


async def test_a_response_value_is_money_not_negative_and_in_cents(client: httpx.AsyncClient) -> None:
    member = await make_customer(client, tags=["val"])
    campaign = await make_campaign(client, target={"tag": "val"})
    cid = campaign["id"]
    await start(client, cid)
    body = {"customer_id": member, "type": "purchased", "occurred_at": "2026-03-05T10:00:00Z"}

    for wrong in ("-100", "-0.01", "1.234", "abc"):
        refused = await client.post(f"/campaigns/{cid}/responses", json={**body, "value": wrong})
        assert problem_fields(refused) == {"body.value"}, wrong
    assert (await client.get(f"/campaigns/{cid}/responses")).json()["items"] == []
    recorded = await client.post(f"/campaigns/{cid}/responses", json={**body, "value": "30"})
    assert recorded.status_code == 201, recorded.text
    assert recorded.json()["value"] == "30.00"
    assert (await client.get(recorded.headers["location"])).json()["value"] == "30.00"
    free = await client.post(f"/campaigns/{cid}/responses", json={**body, "type": "opened", "value": "0"})
    assert (free.status_code, free.json()["value"]) == (201, "0.00")


async def test_an_order_may_name_an_existing_campaign(client: httpx.AsyncClient) -> None:
    buyer = await make_customer(client)
    campaign = await make_campaign(client)
    unknown = str(uuid.uuid4())
    order = {"customer_id": buyer, "occurred_at": "2026-03-05T10:00:00Z", "amount": "10.00", "currency": "CNY"}

    refused = await client.post("/orders", json={**order, "campaign_id": unknown})
    assert problem_fields(refused) == {"body.campaign_id"}
    assert refused.json()["errors"][0]["code"] == "unknown_campaign"
    recorded = await client.post("/orders", json={**order, "campaign_id": campaign["id"]})
    assert recorded.status_code == 201, recorded.text
    assert recorded.json()["campaign_id"] == campaign["id"]
    assert (await client.get(f"/orders/{recorded.json()['id']}")).json()["campaign_id"] == campaign["id"]
    batch = await client.post(
        "/orders/batch", json={"items": [{**order, "external_ref": "b1", "campaign_id": unknown}]}
    )
    assert batch.status_code == 200, batch.text
    [item] = batch.json()["items"]
    assert (item["status"], item["error"]["errors"][0]["code"]) == ("invalid", "unknown_campaign")


async def test_the_report_counts_by_hand(client: httpx.AsyncClient, db: Any, app: Any) -> None:
    a, b, c, d = [await make_customer(client, tags=["spring"]) for _ in range(4)]
    await make_customer(client, consent=False, tags=["spring"])  # left out
    for customer, segment in ((a, "profitable_big"), (b, "profitable_big"), (c, "low_value")):
        await scoring_says(db, customer, value_segment=segment)
    campaign = await make_campaign(client, target={"tag": "spring"}, actual_cost="100.00")
    cid = campaign["id"]
    await start(client, cid)
    for customer, type, at in (
        (a, "opened", "2026-03-02T10:00:00Z"),
        (a, "clicked", "2026-03-03T10:00:00Z"),
        (b, "opened", "2026-03-05T10:00:00Z"),
        (c, "unsubscribed", "2026-03-04T10:00:00Z"),
    ):
        assert (await respond(client, cid, customer, type, at)).status_code == 201
    await buy(client, a, "2026-03-10T10:00:00Z", "200.00", margin="50.00")  # 7 days after the click: in
    await buy(client, a, "2026-03-20T10:00:00Z", "80.00", margin="20.00")  # 17 days after: out
    await buy(client, a, "2026-03-11T10:00:00Z", "70.00", currency="USD")  # another currency: out
    await buy(client, b, "2026-03-04T10:00:00Z", "999.00")  # before B's first response: out
    bought = await buy(client, b, "2026-03-06T10:00:00Z", "300.00", margin="90.00")  # in, less its refund
    refund = {"amount": "100.00", "occurred_at": "2026-03-08T10:00:00Z"}
    assert (await client.post(f"/orders/{bought}/refunds", json=refund)).status_code == 201
    await buy(client, c, "2026-03-05T10:00:00Z", "500.00")  # an unsubscribe is no response: out
    await buy(client, d, "2026-03-15T10:00:00Z", "60.00", campaign_id=cid)  # names the campaign: in

    report = (await client.get(f"/campaigns/{cid}/report")).json()

    assert (report["excluded_without_consent"], report["attribution_window_days"]) == (1, 14)
    assert report["total"] == {
        "members": 4,
        "responded": 2,
        "response_rate": 0.5,
        "converted": 3,
        "conversion_rate": 0.75,
        "revenue": "460.00",
        "margin": "140.00",
        "orders": 3,
    }
    rates = {r["type"]: (r["members"], r["rate"]) for r in report["responses"]}
    assert rates == {
        "delivered": (0, 0.0),
        "opened": (2, 0.5),
        "clicked": (1, 0.25),
        "replied": (0, 0.0),
        "visited": (0, 0.0),
        "purchased": (0, 0.0),
        "unsubscribed": (1, 0.25),
    }
    assert (report["cost"], report["roi"], report["margin_roi"]) == ("100.00", 3.6, 0.4)
    segments = {s["value_segment"]: s for s in report["segments"]}
    assert list(segments) == ["low_value", "profitable_big", None]
    big = segments["profitable_big"]
    assert (big["members"], big["responded"], big["converted"], big["revenue"], big["margin"]) == (
        2,
        2,
        2,
        "400.00",
        "140.00",
    )
    assert (segments["low_value"]["members"], segments["low_value"]["revenue"]) == (1, "0.00")
    assert (segments[None]["converted"], segments[None]["revenue"], segments[None]["orders"]) == (1, "60.00", 1)

    settings = app.state.settings
    before = settings.campaign_attribution_days
    settings.campaign_attribution_days = 20  # the 17-days-later purchase now falls in the window
    try:
        wider = (await client.get(f"/campaigns/{cid}/report")).json()
    finally:
        settings.campaign_attribution_days = before
    assert Decimal(wider["total"]["revenue"]) == Decimal("540.00")

    page = await client.get(f"/campaigns/{cid}/report", params={"format": "html"})
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "<svg" in page.text and "Spring win-back" in page.text and "460.00" in page.text
    assert "<p>Status: Running;" in page.text and "CampaignStatus" not in page.text
    for cell in ("460.00 CNY", "140.00 CNY", "100.00 CNY", "400.00 CNY", "0.00 CNY"):
        assert f"<td>{cell}</td>" in page.text, cell  # every money cell names its currency


@pytest.fixture
async def agents(db: Any) -> dict[str, str]:
    return {
        "li": await known_user(db, role="agent", name="Li Na"),
        "wang": await known_user(db, role="agent", name="Wang Fang"),
    }


async def test_agents_see_their_own_campaigns_and_only_their_customers(
    client: httpx.AsyncClient, agents: dict[str, str]
) -> None:
    li, wang = agents["li"], agents["wang"]
    as_li, as_wang = internal_headers(subject=li, role="agent"), internal_headers(subject=wang, role="agent")
    mine = await make_customer(client, owner_id=li, tags=["fair"])
    theirs = await make_customer(client, owner_id=wang, tags=["fair"])

    own = await make_campaign(client, headers=as_li, target={"tag": "fair"})
    assert own["owner_id"] == li
    refused = await client.post("/campaigns", json=campaign_body(owner_id=wang), headers=as_li)
    assert (refused.status_code, refused.json()["code"]) == (403, "owner_not_allowed")
    assert (await client.get(f"/campaigns/{own['id']}", headers=as_wang)).status_code == 404
    assert (await client.get("/campaigns", headers=as_wang)).json()["items"] == []
    assert [c["id"] for c in (await client.get("/campaigns", headers=as_li)).json()["items"]] == [own["id"]]

    job = await start(client, own["id"], headers=as_li)
    assert job["progress"]["added"] == 1  # Li's start takes in only the customers Li may see

    # An admin's campaign for Li holds Wang's customer too; Li's list of its members does not.
    shared = await make_campaign(client, owner_id=li, target={"tag": "fair"})
    await start(client, shared["id"])
    as_admin = await client.get(f"/campaigns/{shared['id']}/members")
    assert sorted(m["customer_id"] for m in as_admin.json()["items"]) == sorted([mine, theirs])
    as_owner = await client.get(f"/campaigns/{shared['id']}/members", headers=as_li)
    assert [m["customer_id"] for m in as_owner.json()["items"]] == [mine]
    hidden = await client.post(
        f"/campaigns/{shared['id']}/responses",
        json={"customer_id": theirs, "type": "opened", "occurred_at": "2026-03-02T10:00:00Z"},
        headers=as_li,
    )
    assert hidden.status_code == 404


async def test_responses_arrive_by_csv_import_under_the_same_rules(client: httpx.AsyncClient, data_dir: Any) -> None:
    member = await make_customer(client, tags=["mail"], external_ref="M-1")
    outsider = await make_customer(client)
    campaign = await make_campaign(client, target={"tag": "mail"})
    cid = campaign["id"]
    await start(client, cid)
    content = (
        "campaign_id,customer_external_ref,customer_id,type,occurred_at\n"
        f"{cid},M-1,,delivered,2026-03-02T08:00:00Z\n"
        f"{cid},,{member},unsubscribed,2026-03-03\n"
        f"{cid},,{outsider},opened,2026-03-02T09:00:00Z\n"
        f"{uuid.uuid4()},,{member},opened,2026-03-02T09:00:00Z\n"
        f"{cid},,{member},waved,2026-03-02T09:00:00Z\n"
    )

    job = await run_import(client, "campaign_responses", content)

    assert job["status"] == "succeeded", job
    assert counts(job) == (2, 0, 0, 3)
    errors = (await client.get(f"/imports/{job['id']}/errors")).json()["items"]
    assert [(e["row"], e["column"], e["code"]) for e in errors] == [
        (4, "customer_id", "not_a_member"),
        (5, "campaign_id", "campaign_not_found"),
        (6, "type", "enum"),
    ]
    listed = (await client.get(f"/campaigns/{cid}/responses")).json()["items"]
    assert sorted(r["type"] for r in listed) == ["delivered", "unsubscribed"]
    assert (await client.get(f"/customers/{member}")).json()["marketing_consent"] is False
    again = await run_import(client, "campaign_responses", content.replace("waved", "opened"))
    assert counts(again)[:3] == (1, 0, 2)  # the two recorded before are skipped, the fixed row is new


async def test_an_imported_response_is_refused_before_the_campaign_or_with_a_negative_value(
    client: httpx.AsyncClient, data_dir: Any
) -> None:
    member = await make_customer(client, tags=["file"])
    campaign = await make_campaign(client, target={"tag": "file"})
    cid = campaign["id"]
    await start(client, cid)
    content = (
        "campaign_id,customer_id,type,occurred_at,value\n"
        f"{cid},{member},purchased,2026-03-05T10:00:00Z,-100\n"
        f"{cid},{member},opened,2020-01-01,\n"
        f"{cid},{member},purchased,2026-03-05T11:00:00Z,12.345\n"
        f"{cid},{member},purchased,2026-03-06T10:00:00Z,30\n"
    )

    job = await run_import(client, "campaign_responses", content)

    assert job["status"] == "succeeded", job
    assert counts(job) == (1, 0, 0, 3)
    errors = (await client.get(f"/imports/{job['id']}/errors")).json()["items"]
    assert [(e["row"], e["column"]) for e in errors] == [(2, "value"), (3, "occurred_at"), (4, "value")]
    assert errors[1]["code"] == "before_campaign_start"
    assert "2026-03-01" in errors[1]["message"]
    [listed] = (await client.get(f"/campaigns/{cid}/responses")).json()["items"]
    assert (listed["occurred_at"], listed["value"]) == ("2026-03-06T10:00:00Z", "30.00")
