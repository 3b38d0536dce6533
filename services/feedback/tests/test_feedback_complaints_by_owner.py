"""Complaints resolved per account manager (`/internal/analytics/complaints/by-owner`), by hand for
a fixed period, and who sees which managers."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
from feedback_helpers import make_customer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_chassis.identity import Principal, sign_internal_token
from crm_chassis.settings import DEV_INTERNAL_SECRET
from crm_chassis.testing import internal_headers
from crm_feedback.complaints.models import Complaint

Maker = async_sessionmaker[AsyncSession]
URL = "/internal/analytics/complaints/by-owner"
PERIOD = {"from": "2026-10-01T00:00:00Z", "to": "2026-11-01T00:00:00Z"}
A, B, C, MANAGER = uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4()


def at(month: int, day: int) -> datetime:
    return datetime(2026, month, day, 12, tzinfo=UTC)


def complaint(customer_id: uuid.UUID, resolved: datetime | None, **extra: Any) -> Complaint:
    return Complaint(
        customer_id=customer_id,
        channel="phone",
        category="delivery",
        severity="high",
        description="Broken parcel.",
        status="resolved" if resolved else "open",
        opened_at=at(9, 28),
        resolved_at=resolved,
        created_by="agent-1",
        **extra,
    )


async def seed(db: Maker) -> None:
    a, b, c = [await make_customer(db, owner_id=owner) for owner in (A, B, C)]
    async with db.begin() as session:
        session.add_all(
            [
                complaint(a, at(10, 5), resolution_due_at=at(10, 6)),  # by its target: within
                complaint(a, at(10, 9), resolution_due_at=at(10, 6)),  # after it: not within
                complaint(a, at(10, 9), resolution_breached_at=at(10, 7)),  # a breach was recorded
                complaint(a, at(10, 20)),  # no target: within
                complaint(a, at(9, 30), resolution_due_at=at(10, 6)),  # resolved before the period
                complaint(a, None, resolution_due_at=at(10, 6)),  # still open
                complaint(b, at(10, 31), resolution_due_at=at(11, 3)),
                complaint(c, at(10, 2)),
            ]
        )


async def test_resolved_and_within_sla_per_owner(client: httpx.AsyncClient, db: Maker) -> None:
    await seed(db)
    answer = await client.get(URL, params=PERIOD, headers=internal_headers("analyst"))
    assert answer.status_code == 200, answer.text
    items = {item["owner_id"]: (item["resolved"], item["resolved_within_sla"]) for item in answer.json()["items"]}
    assert items == {str(A): (4, 2), str(B): (1, 1), str(C): (1, 1)}


async def test_a_manager_sees_their_team_and_an_agent_nothing(client: httpx.AsyncClient, db: Maker) -> None:
    await seed(db)
    principal = Principal(subject=str(MANAGER), kind="user", role="manager", team=frozenset({str(A), str(B)}))
    headers = {"X-Internal-Token": sign_internal_token(principal, DEV_INTERNAL_SECRET, ttl_seconds=3600)}
    team = await client.get(URL, params=PERIOD, headers=headers)
    assert team.status_code == 200, team.text
    assert sorted(item["owner_id"] for item in team.json()["items"]) == sorted(map(str, (A, B)))
    agent = await client.get(URL, params=PERIOD, headers=internal_headers("agent", subject=str(A)))
    assert agent.status_code == 403


async def test_partner_keys_need_the_analytics_scope(client: httpx.AsyncClient, db: Maker) -> None:
    await seed(db)

    def key(*scopes: str) -> dict[str, str]:
        principal = Principal(subject="key-1", kind="api_key", scopes=frozenset(scopes))
        return {"X-Internal-Token": sign_internal_token(principal, DEV_INTERNAL_SECRET, ttl_seconds=3600)}

    assert (await client.get(URL, params=PERIOD, headers=key("customers:read"))).status_code == 403
    allowed = await client.get(URL, params=PERIOD, headers=key("analytics:read"))
    assert allowed.status_code == 200 and len(allowed.json()["items"]) == 3
