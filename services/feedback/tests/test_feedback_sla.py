"""SLA policies through the API, deadlines on complaints, and the SLA watch run at fixed instants."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
from feedback_helpers import act, create_complaint, outbox
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_feedback.config import Settings
from crm_feedback.sla.checks import check_slas

Db = async_sessionmaker[AsyncSession]
T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


async def make_policy(client: httpx.AsyncClient, **overrides: object) -> dict[str, object]:
    body: dict[str, object] = {
        "name": "High",
        "severity": "high",
        "first_response_minutes": 60,
        "resolution_hours": 4,
    }
    body.update(overrides)
    response = await client.post("/sla-policies", json=body)
    assert response.status_code == 201, response.text
    return response.json()


async def test_policy_crud_and_validation(client: httpx.AsyncClient) -> None:
    policy = await make_policy(
        client,
        calendar={"timezone": "Asia/Shanghai", "opens": "09:00", "closes": "18:00", "holidays": ["2026-10-01"]},
    )
    assert policy["resolution_minutes"] == 240 and policy["calendar"]["weekdays"] == [0, 1, 2, 3, 4]
    duplicate = await client.post(
        "/sla-policies", json={"name": "x", "severity": "high", "first_response_minutes": 5, "resolution_minutes": 9}
    )
    assert duplicate.status_code == 409 and duplicate.json()["code"] == "duplicate_sla_policy"
    await make_policy(client, category="billing")  # a narrower scope is not a duplicate
    bad = await client.post(
        "/sla-policies",
        json={
            "name": "x",
            "severity": "low",
            "first_response_minutes": 5,
            "first_response_hours": 1,
            "resolution_minutes": 1,
            "calendar": {"timezone": "Mars/Olympus", "opens": "18:00", "closes": "09:00"},
        },
    )
    assert bad.status_code == 422
    assert {"body", "body.calendar.timezone", "body.calendar"} & {e["field"] for e in bad.json()["errors"]}
    url = f"/sla-policies/{policy['id']}"
    assert (await client.patch(url, json={"resolution_hours": 8})).status_code == 428
    changed = await client.patch(url, json={"resolution_hours": 8, "calendar": None}, headers={"If-Match": '"1"'})
    assert changed.status_code == 200
    assert changed.json()["resolution_minutes"] == 480 and changed.json()["calendar"] is None
    shorter = await client.patch(url, json={"resolution_minutes": 10}, headers={"If-Match": '"2"'})
    assert shorter.status_code == 422
    assert (await client.delete(url, headers={"If-Match": '"2"'})).status_code == 204
    assert (await client.get(url)).status_code == 404
    assert len((await client.get("/sla-policies")).json()["items"]) == 1


async def test_complaint_takes_the_most_specific_policy(client: httpx.AsyncClient, customer_id: uuid.UUID) -> None:
    general = await make_policy(client)
    specific = await make_policy(client, category="delivery", first_response_minutes=15, resolution_hours=2)
    opened = T0.isoformat()
    delivery = await create_complaint(client, customer_id, opened_at=opened)
    billing = await create_complaint(client, customer_id, opened_at=opened, category="billing")
    low = await create_complaint(client, customer_id, opened_at=opened, severity="low")
    assert delivery["sla_policy_id"] == specific["id"]
    assert delivery["first_response_due_at"] == "2026-11-20T08:15:00Z"
    assert delivery["resolution_due_at"] == "2026-11-20T10:00:00Z"
    assert billing["sla_policy_id"] == general["id"]
    assert billing["resolution_due_at"] == "2026-11-20T12:00:00Z"
    assert low["sla_policy_id"] is None and low["deadline_source"] == "none"
    assert delivery["first_response_breached"] is True  # T0 is days ago and nobody answered
    manual = await create_complaint(client, customer_id, resolution_due_at="2030-01-01T00:00:00+08:00")
    assert manual["deadline_source"] == "manual" and manual["resolution_due_at"] == "2029-12-31T16:00:00Z"


async def test_waiting_on_customer_pauses_the_resolution_clock(
    client: httpx.AsyncClient, customer_id: uuid.UUID
) -> None:
    await make_policy(client)
    opened = datetime.now(UTC) - timedelta(minutes=30)
    complaint = await create_complaint(client, customer_id, opened_at=opened.isoformat())
    cid = complaint["id"]
    due_before = datetime.fromisoformat(complaint["resolution_due_at"])
    for action in ("acknowledge", "start", "wait_on_customer"):
        await act(client, cid, action)
    paused = (await client.get(f"/complaints/{cid}")).json()
    assert paused["sla_paused"] is True
    resumed = (await act(client, cid, "start")).json()
    assert resumed["sla_paused"] is False
    history = resumed["history"]
    pause_start = datetime.fromisoformat(history[-2]["at"])
    pause_end = datetime.fromisoformat(history[-1]["at"])
    assert datetime.fromisoformat(resumed["resolution_due_at"]) == due_before + (pause_end - pause_start)


async def _check(db: Db, now: datetime, settings: Settings) -> tuple[int, int]:
    async with db.begin() as session:
        result = await check_slas(session, now, settings)
    return result.warnings, result.breaches


async def test_sla_watch_warns_breaches_and_escalates_once_each(
    client: httpx.AsyncClient, customer_id: uuid.UUID, db: Db, settings: Settings
) -> None:
    await make_policy(client)  # 60 min first response, 4 h resolution; lead is 30 min in the tests
    complaint = await create_complaint(client, customer_id, opened_at=T0.isoformat(), assignee_id=str(uuid.UUID(int=1)))
    waiting = await create_complaint(client, customer_id, opened_at=T0.isoformat())
    for action in ("acknowledge", "start", "wait_on_customer"):
        await act(client, waiting["id"], action)
    minutes = [(20, (0, 0)), (35, (1, 0)), (40, (0, 0)), (61, (0, 1)), (62, (0, 0)), (215, (1, 0)), (241, (0, 1))]
    for offset, expected in minutes:
        assert await _check(db, T0 + timedelta(minutes=offset), settings) == expected, offset
    assert await _check(db, T0 + timedelta(days=3), settings) == (0, 0)
    body = (await client.get(f"/complaints/{complaint['id']}")).json()
    assert body["escalated"] is True and body["escalation_level"] == 2
    assert body["escalated_to"] == str(uuid.UUID(int=101))
    assert [h["action"] for h in body["history"]] == [
        "created",
        "sla_warning",
        "escalate",
        "sla_warning",
        "escalate",
    ]
    assert body["history"][2]["actor"] == "system:sla"
    warnings = await outbox(db, "complaint.sla_warning")
    breaches = await outbox(db, "complaint.sla_breached")
    assert [(e["data"]["target"], e["data"]["due_at"]) for e in warnings] == [
        ("first_response", "2026-11-20T09:00:00+00:00"),
        ("resolution", "2026-11-20T12:00:00+00:00"),
    ]
    assert [e["data"]["target"] for e in breaches] == ["first_response", "resolution"]
    assert all(e["data"]["id"] == complaint["id"] for e in warnings + breaches)
    untouched = (await client.get(f"/complaints/{waiting['id']}")).json()
    assert untouched["escalated"] is False  # its clock was paused


async def test_answered_complaint_is_not_breached_for_first_response(
    client: httpx.AsyncClient, customer_id: uuid.UUID, db: Db, settings: Settings
) -> None:
    await make_policy(client, first_response_minutes=24 * 60, resolution_hours=48)
    opened = datetime.now(UTC) - timedelta(minutes=5)
    complaint = await create_complaint(client, customer_id, opened_at=opened.isoformat())
    await act(client, complaint["id"], "acknowledge")
    assert await _check(db, opened + timedelta(days=1, minutes=1), settings) == (0, 0)
    assert await _check(db, opened + timedelta(hours=48, minutes=1), settings) == (0, 1)
    assert [e["data"]["target"] for e in await outbox(db, "complaint.sla_breached")] == ["resolution"]


async def test_a_full_batch_never_starves_the_rest(
    client: httpx.AsyncClient, customer_id: uuid.UUID, db: Db, settings: Settings
) -> None:
    await make_policy(client)
    for _ in range(3):
        await create_complaint(client, customer_id, opened_at=T0.isoformat())
    moment = T0 + timedelta(minutes=45)  # inside the 30-minute lead of the first response
    rounds = []
    for _ in range(3):
        async with db.begin() as session:
            rounds.append((await check_slas(session, moment, settings, limit=2)).warnings)
    assert rounds == [2, 1, 0]


async def test_a_complaint_the_watch_cannot_check_is_parked_and_the_others_are_still_watched(
    client: httpx.AsyncClient, customer_id: uuid.UUID, db: Db, settings: Settings
) -> None:
    from sqlalchemy import select, update

    from crm_chassis.dead_letters import retry_dead_letter
    from crm_feedback.complaints.models import Complaint
    from crm_feedback.db import infra
    from crm_feedback.sla.checks import SLA_CHECK_CONSUMER, retry_parked

    await make_policy(client)
    poisoned = await create_complaint(client, customer_id, opened_at=T0.isoformat())
    healthy = await create_complaint(client, customer_id, opened_at=T0.isoformat())
    row = Complaint.id == uuid.UUID(poisoned["id"])
    async with db.begin() as session:
        # as an old release might have left it: an escalation level one more escalation overflows
        top = 2**31 - 1 if session.get_bind().dialect.name == "postgresql" else 2**63 - 1
        await session.execute(update(Complaint).where(row).values(escalation_level=top))

    parked: list[int] = []
    breach = T0 + timedelta(minutes=61)
    async with db.begin() as session:
        result = await check_slas(session, breach, settings, on_park=lambda: parked.append(1))
    assert (result.breaches, result.parked, parked) == (1, 1, [1])
    assert (await client.get(f"/complaints/{healthy['id']}")).json()["escalated"] is True
    assert (await client.get(f"/complaints/{poisoned['id']}")).json()["escalated"] is False
    dead = infra.dead_letter
    async with db() as session:
        rows = (
            await session.execute(select(dead.c.event_id, dead.c.attempts).where(dead.c.consumer == SLA_CHECK_CONSUMER))
        ).all()
    assert [(str(r.event_id), r.attempts) for r in rows] == [(poisoned["id"], settings.dead_letter_after_attempts)]

    # later rounds leave it alone: no new attempt, nothing else held up
    async with db.begin() as session:
        again = await check_slas(session, breach + timedelta(minutes=1), settings)
    assert (again.breaches, again.parked) == (0, 0)

    # the row repaired, an admin's retry checks it and takes it off the dead letters
    async with db.begin() as session:
        await session.execute(update(Complaint).where(row).values(escalation_level=0))
    retries = {SLA_CHECK_CONSUMER: retry_parked(settings)}
    await retry_dead_letter(db, infra, retries, SLA_CHECK_CONSUMER, uuid.UUID(poisoned["id"]))
    assert (await client.get(f"/complaints/{poisoned['id']}")).json()["escalated"] is True
    async with db() as session:
        assert (await session.scalar(select(dead.c.event_id).where(dead.c.consumer == SLA_CHECK_CONSUMER))) is None
