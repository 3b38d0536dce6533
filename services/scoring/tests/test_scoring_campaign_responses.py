"""Campaign responses in the read model: kept once, moved by a merge, and the latest engaging one
(not a delivery, not an unsubscribe) a churn-risk reason of weight 0 on the card (SQLite and
PostgreSQL)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import func, select

from crm_chassis.events import Event
from crm_scoring.readmodel.models import CampaignResponseFact, RescoreRequest
from crm_scoring.testing import Maker, apply, customer, event, order

AS_OF = datetime(2026, 6, 1, 12, tzinfo=UTC)
CAMPAIGN = uuid.uuid4()


def response(cid: uuid.UUID, type: str, at: datetime) -> Event:
    data = {"id": str(uuid.uuid4()), "campaign_id": str(CAMPAIGN), "customer_id": str(cid), "type": type}
    return event("campaign.response_recorded", {**data, "occurred_at": at.isoformat(), "channel": "sms", "value": None})


def buyer(cid: uuid.UUID) -> list[Event]:
    return [customer(cid), *(order(cid, "40.00", AS_OF - timedelta(days=20 + 30 * k)) for k in range(3))]


async def test_a_response_is_kept_once_and_queues_the_customer(db: Maker) -> None:
    cid = uuid.uuid4()
    clicked = response(cid, "clicked", AS_OF - timedelta(days=5))
    await apply(db, customer(cid), clicked, clicked)
    async with db() as session:
        assert await session.scalar(select(func.count()).select_from(CampaignResponseFact)) == 1
        kept = await session.get(CampaignResponseFact, uuid.UUID(clicked.data["id"]))
        assert kept is not None and kept.type == "clicked" and kept.campaign_id == CAMPAIGN
        assert await session.get(RescoreRequest, cid) is not None


async def test_merge_moves_the_responses_to_the_survivor(db: Maker) -> None:
    survivor, duplicate = uuid.uuid4(), uuid.uuid4()
    await apply(db, customer(survivor), customer(duplicate), response(duplicate, "opened", AS_OF))
    merged = {"survivor_id": str(survivor), "duplicate_id": str(duplicate)}
    await apply(db, event("customer.merged", merged, aggregate=duplicate, version=2))
    async with db() as session:
        assert set(await session.scalars(select(CampaignResponseFact.customer_id))) == {survivor}


async def _card(client: httpx.AsyncClient, run_id: str, cid: uuid.UUID) -> dict[str, Any]:
    found = await client.get(f"/scoring/runs/{run_id}/scores/{cid}")
    assert found.status_code == 200, found.text
    part: dict[str, Any] = found.json()["churn_risk"]
    return part


async def test_the_latest_engaging_response_is_a_reason_on_the_card(client: httpx.AsyncClient, db: Maker) -> None:
    engaged, delivered, unsubscribed, long_ago = (uuid.uuid4() for _ in range(4))
    events = [*buyer(engaged), *buyer(delivered), *buyer(unsubscribed), *buyer(long_ago)]
    events += [
        response(engaged, "opened", AS_OF - timedelta(days=9)),
        response(engaged, "clicked", AS_OF - timedelta(days=5)),
        response(engaged, "unsubscribed", AS_OF - timedelta(days=2)),  # no engagement: the click stays the latest
        response(engaged, "replied", AS_OF + timedelta(days=1)),  # after the as_of: not seen
        response(delivered, "delivered", AS_OF - timedelta(days=1)),
        response(unsubscribed, "unsubscribed", AS_OF - timedelta(days=1)),
        response(long_ago, "visited", AS_OF - timedelta(days=31)),
    ]
    await apply(db, *events)
    started = await client.post("/scoring/runs", json={"as_of": AS_OF.isoformat()})
    assert started.status_code == 202, started.text
    run = (await client.get(f"/scoring/runs/{started.json()['id']}")).json()
    assert run["status"] == "succeeded" and run["mode"] == "backtest", run

    card = await _card(client, run["id"], engaged)
    reasons = {r["code"]: r["detail"] for r in card["reasons"]}
    assert "responded to a campaign 5 days ago (clicked" in reasons["responded_to_campaign"]
    assert datetime.fromisoformat(card["last_campaign_response_at"]) == AS_OF - timedelta(days=5)
    assert card["last_campaign_response_type"] == "clicked"

    for cid in (delivered, unsubscribed):
        card = await _card(client, run["id"], cid)
        assert "responded_to_campaign" not in {r["code"] for r in card["reasons"]}
        assert card["last_campaign_response_at"] is None and card["last_campaign_response_type"] is None
    # an engaging response older than campaign_response_days (30) is kept on the card, but no reason
    card = await _card(client, run["id"], long_ago)
    assert card["last_campaign_response_type"] == "visited"
    assert "responded_to_campaign" not in {r["code"] for r in card["reasons"]}


async def test_a_response_adds_no_risk(client: httpx.AsyncClient, db: Maker) -> None:
    """Weight 0 by default: two customers alike but for a click have the same risk."""
    clicked, plain = uuid.uuid4(), uuid.uuid4()
    await apply(db, *buyer(clicked), *buyer(plain), response(clicked, "clicked", AS_OF - timedelta(days=3)))
    started = await client.post("/scoring/runs", json={"as_of": AS_OF.isoformat()})
    run_id = started.json()["id"]
    with_click, without = await _card(client, run_id, clicked), await _card(client, run_id, plain)
    assert "responded_to_campaign" in {r["code"] for r in with_click["reasons"]}
    assert with_click["score"] == without["score"]
