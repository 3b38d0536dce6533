"""Manager analytics (`/internal/analytics/managers`): each figure per owner, computed by hand for a
fixed period, on SQLite and PostgreSQL; and who sees which managers."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import insert

from crm_chassis.identity import Principal, sign_internal_token
from crm_chassis.settings import DEV_INTERNAL_SECRET
from crm_chassis.testing import internal_headers
from crm_scoring.retention.models import RetentionAction
from crm_scoring.scores.models import customer_score
from crm_scoring.testing import NOW, Maker, apply, customer, event, order, score_row

START, END = datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 11, 1, tzinfo=UTC)
PERIOD = {"from": START.isoformat(), "to": END.isoformat()}
A, B, C, MANAGER = uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
URL = "/internal/analytics/managers"


def at(month: int, day: int, year: int = 2026) -> datetime:
    return datetime(year, month, day, 12, tzinfo=UTC)


def action(cid: uuid.UUID, opened: datetime, closed: datetime | None = None, outcome: str | None = None) -> Any:
    return {
        "id": uuid.uuid4(),
        "customer_id": cid,
        "countermeasure": "win_back",
        "suggestion": "lost",
        "value_segment": None,
        "status": "closed" if closed else "open",
        "outcome": outcome,
        "created_at": opened,
        "due_date": opened.date(),
        "closed_at": closed,
        "version": 1,
    }


async def books(db: Maker) -> dict[str, uuid.UUID]:
    """A: a1 (active at both ends), a2 (new in the period, partly refunded), a3 (lost in it), a4
    (created after the period); B: b1 (new); C: c1. The activity window is the default 365 days."""
    ids = {name: uuid.uuid4() for name in ("a1", "a2", "a3", "a4", "b1", "c1")}
    owners = {"a1": A, "a2": A, "a3": A, "a4": A, "b1": B, "c1": C}
    events = [customer(cid, owners[name]) for name, cid in ids.items() if name != "a4"]
    events.append(customer(ids["a4"], A, created_at="2026-11-15T00:00:00+00:00"))
    bought = order(ids["a2"], "80.00", at(10, 15))
    refund = {"id": str(uuid.uuid4()), "customer_id": str(ids["a2"]), "occurred_at": at(10, 20).isoformat()}
    refund |= {"amount": "-30.00", "currency": "CNY", "refund_of": bought.data["id"]}
    events += [
        order(ids["a1"], "100.00", at(9, 1)),  # before the period: no revenue, active at its start
        order(ids["a1"], "50.00", at(10, 10)),
        order(ids["a1"], "999.00", END),  # at `to`: outside [from, to)
        bought,
        event("order.refunded", refund),
        order(ids["a3"], "40.00", at(10, 20, 2025)),  # active at the start (after 2025-10-01), not at the end
        order(ids["b1"], "200.00", at(10, 20)),
        order(ids["c1"], "70.00", at(10, 5)),
        order(ids["c1"], "15.50", at(10, 6), currency="USD"),
    ]
    await apply(db, *events)
    care = {"a1": "on_track", "a2": "overdue", "a3": None, "b1": "on_track"}
    actions = [
        action(ids["a1"], at(9, 20), at(10, 5), "won_back"),  # closed in the period, opened before
        action(ids["a2"], at(10, 3), at(10, 25), "lost"),  # opened and closed in it
        action(ids["a3"], at(10, 12)),  # opened, still open
        action(ids["b1"], at(8, 1), at(9, 1), "kept"),  # before the period
    ]
    async with db.begin() as session:
        for name, status in care.items():
            row = score_row(customer_id=ids[name], care_status=status, scored_at=NOW, version=1)
            await session.execute(insert(customer_score).values(row))
        await session.execute(insert(RetentionAction), actions)
    return ids


def manager_of(*team: uuid.UUID) -> dict[str, str]:
    principal = Principal(subject=str(MANAGER), kind="user", role="manager", team=frozenset(map(str, team)))
    return {"X-Internal-Token": sign_internal_token(principal, DEV_INTERNAL_SECRET, ttl_seconds=3600)}


async def test_each_figure_per_manager(client: httpx.AsyncClient, db: Maker) -> None:
    await books(db)
    answer = await client.get(URL, params=PERIOD, headers=internal_headers("analyst"))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["from"], body["activity_window_days"]) == ("2026-10-01T00:00:00Z", 365)
    by_owner = {item["owner_id"]: item for item in body["items"]}
    assert sorted(by_owner) == sorted(map(str, (A, B, C)))
    assert by_owner[str(A)] == {
        "owner_id": str(A),
        "book_size": 3,  # a4 was created after `to`
        "revenue": "100.00",  # a1's 50 + a2's 80 less its 30 refund
        "revenue_by_currency": [{"currency": "CNY", "amount": "100.00"}],
        "key_customers": 2,
        "care_on_track": 1,
        "care_on_track_share": 0.5,
        # start {a1, a3}, end {a1, a2}: new a2, lost a3, retention (2 − 1) / 2
        "retention": {
            "start_count": 2,
            "end_count": 2,
            "new_count": 1,
            "lost_count": 1,
            "retention_rate": 0.5,
            "churn_rate": 0.5,
        },
        "actions_opened": 2,
        "actions_closed": 2,
        "actions_won_back": 1,
        "win_back_rate": 0.5,
    }
    b = by_owner[str(B)]
    assert (b["book_size"], b["revenue"], b["care_on_track_share"]) == (1, "200.00", 1.0)
    assert b["retention"]["retention_rate"] is None and b["retention"]["new_count"] == 1
    assert (b["actions_opened"], b["actions_closed"], b["win_back_rate"]) == (0, 0, None)
    assert by_owner[str(C)]["key_customers"] == 0 and by_owner[str(C)]["care_on_track_share"] is None
    # two currencies are not one sum: the split says what the total is made of
    assert by_owner[str(C)]["revenue_by_currency"] == [
        {"currency": "CNY", "amount": "70.00"},
        {"currency": "USD", "amount": "15.50"},
    ]


async def test_a_manager_sees_their_team_and_an_agent_nothing(client: httpx.AsyncClient, db: Maker) -> None:
    await books(db)
    team = await client.get(URL, params=PERIOD, headers=manager_of(A, B))
    assert team.status_code == 200, team.text
    assert sorted(item["owner_id"] for item in team.json()["items"]) == sorted(map(str, (A, B)))
    agent = await client.get(URL, params=PERIOD, headers=internal_headers("agent", subject=str(A)))
    assert agent.status_code == 403


async def test_an_empty_or_reversed_period(client: httpx.AsyncClient, db: Maker) -> None:
    await books(db)
    before = await client.get(URL, params={"from": "2020-01-01T00:00:00Z", "to": "2020-02-01T00:00:00Z"})
    assert before.status_code == 200
    assert all(item["book_size"] == 0 and item["revenue"] == "0.00" for item in before.json()["items"])
    reversed_ = await client.get(URL, params={"from": PERIOD["to"], "to": PERIOD["from"]})
    assert reversed_.status_code == 422
