"""The care list: who to contact next, with what it takes, for the caller's customers; and the
flag on customers contacted too often."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import insert, select

from crm_chassis.identity import Principal, sign_internal_token
from crm_chassis.settings import DEV_INTERNAL_SECRET
from crm_chassis.testing import internal_headers
from crm_scoring.readmodel import stats_repository as stats_repo
from crm_scoring.readmodel.models import CustomerRef, InteractionFact
from crm_scoring.scores import engine
from crm_scoring.scores.models import customer_score
from crm_scoring.settings.schemas import ScoringSettings
from crm_scoring.testing import NOW, Maker, apply, customer, event, score_row

AGENT_A, AGENT_B, AGENT_C, MANAGER = (uuid.uuid4() for _ in range(4))


def as_user(role: str, subject: uuid.UUID, team: tuple[uuid.UUID, ...] = ()) -> dict[str, str]:
    principal = Principal(subject=str(subject), kind="user", role=role, team=frozenset(str(t) for t in team))
    return {"X-Internal-Token": sign_internal_token(principal, DEV_INTERNAL_SECRET, ttl_seconds=3600)}


def contact(cid: uuid.UUID, at: datetime, summary: str = "talked", **extra: Any) -> dict[str, Any]:
    data = {"id": str(uuid.uuid4()), "customer_id": str(cid), "occurred_at": at.isoformat(), "summary": summary}
    return {**data, "channel": "phone", "direction": "outbound", **extra}


async def card(db: Maker, cid: uuid.UUID, **changes: Any) -> None:
    row = score_row(customer_id=cid, scored_at=datetime(2026, 1, 1, tzinfo=UTC), version=1, **changes)
    async with db.begin() as session:
        await session.execute(insert(customer_score).values(**row))


async def due_customer(db: Maker, owner: uuid.UUID, **changes: Any) -> uuid.UUID:
    """A key customer, due since 2026-01-01 (any later 'now' finds them due)."""
    cid = uuid.uuid4()
    details = {"phone": "+8613800138000", "preferred_channel": "im", "best_contact_time": "after 18:00"}
    await apply(db, customer(cid, owner, name=f"customer of {owner}", **details))
    values = {"key_customer_kind": "value", "care_status": "due", "care_due_date": date(2026, 1, 1)}
    await card(db, cid, **{**values, **changes})
    return cid


async def test_items_carry_what_it_takes_to_make_contact(client: httpx.AsyncClient, db: Maker) -> None:
    cid = await due_customer(db, AGENT_A)
    older, last, removed = (
        contact(cid, NOW - timedelta(days=20), "asked about the invoice"),
        contact(cid, NOW - timedelta(days=3), "promised a visit in March"),
        contact(cid, NOW - timedelta(days=1), "logged by mistake"),
    )
    await apply(db, *(event("interaction.logged", c) for c in (older, last, removed)))
    await apply(db, event("interaction.deleted", removed, version=2))
    (item,) = (await client.get("/care/due", headers=as_user("agent", AGENT_A))).json()["items"]
    assert item["customer_id"] == str(cid) and item["display_name"] == f"customer of {AGENT_A}"
    assert (item["phone"], item["preferred_channel"], item["best_contact_time"]) == (
        "+8613800138000",
        "im",
        "after 18:00",
    )
    assert item["last_contact_summary"] == "promised a visit in March"
    assert item["too_frequent"] is False


async def test_erasure_blanks_the_contact_details(db: Maker) -> None:
    cid = await due_customer(db, AGENT_A)
    await apply(db, event("interaction.logged", contact(cid, NOW, "her daughter is ill")))
    await apply(db, event("customer.erased", {"id": str(cid)}, version=2))
    async with db() as session:
        ref = await session.get(CustomerRef, cid)
        assert ref is not None and (ref.phone, ref.preferred_channel, ref.best_contact_time) == (None, None, None)
        assert (await session.scalars(select(InteractionFact.summary))).all() == [None]


async def test_agents_see_their_own_managers_their_team_admins_everyone(client: httpx.AsyncClient, db: Maker) -> None:
    a, b, c = [await due_customer(db, owner) for owner in (AGENT_A, AGENT_B, AGENT_C)]

    async def listed(headers: dict[str, str], **params: str) -> set[str] | int:
        response = await client.get("/care/due", params=params, headers=headers)
        return (
            {i["customer_id"] for i in response.json()["items"]}
            if response.status_code == 200
            else response.status_code
        )

    assert await listed(as_user("agent", AGENT_A)) == {str(a)}
    assert await listed(as_user("agent", AGENT_A), owner_id=str(AGENT_B)) == 403
    manager = as_user("manager", MANAGER, team=(AGENT_A, AGENT_B))
    assert await listed(manager) == {str(a), str(b)}
    assert await listed(manager, owner_id=str(AGENT_B)) == {str(b)}
    assert await listed(manager, owner_id=str(AGENT_C)) == 403
    admin = internal_headers(role="admin")
    assert await listed(admin) == {str(a), str(b), str(c)}
    assert await listed(admin, owner_id=str(AGENT_C)) == {str(c)}
    assert await listed(internal_headers(role="analyst")) == 403


async def recent_contacts(db: Maker, cid: uuid.UUID, settings: ScoringSettings) -> int:
    async with db() as session:
        pop = await stats_repo.load(session, as_of=NOW, settings=settings, ids=[cid])
    return int(engine.score(pop, {}, settings)["recent_contacts"][0])


async def test_more_than_six_contacts_in_thirty_days_is_too_frequent(client: httpx.AsyncClient, db: Maker) -> None:
    cid = uuid.uuid4()
    await apply(db, customer(cid, AGENT_A))
    # six within the 30 days, one just outside it, one deleted
    days = [1, 3, 5, 8, 13, 21, 30.5]
    logged = [contact(cid, NOW - timedelta(days=d)) for d in days]
    await apply(db, *(event("interaction.logged", c) for c in logged))
    settings = ScoringSettings()
    assert await recent_contacts(db, cid, settings) == 6
    one_more = contact(cid, NOW - timedelta(days=2))
    await apply(db, event("interaction.logged", one_more))
    assert await recent_contacts(db, cid, settings) == 7
    assert await recent_contacts(db, cid, ScoringSettings(care_too_frequent_days=60)) == 8
    await apply(db, event("interaction.deleted", one_more, version=2))
    assert await recent_contacts(db, cid, settings) == 6

    frequent, calm = (
        await due_customer(db, AGENT_A, recent_contacts=7),
        await due_customer(db, AGENT_A, recent_contacts=6),
    )
    body = (await client.get(f"/customers/{frequent}/scores")).json()["care"]
    assert body["too_frequent"] is True and "7 contacts in the last 30 days, more than 6" in body["explanation"]
    assert (await client.get(f"/customers/{calm}/scores")).json()["care"]["too_frequent"] is False
    items = (await client.get("/care/due", headers=as_user("agent", AGENT_A))).json()["items"]
    assert {i["customer_id"]: i["too_frequent"] for i in items} == {str(frequent): True, str(calm): False}
    assert {i["recent_contacts"] for i in items} == {6, 7}


async def test_a_follow_up_done_sets_no_due_date(db: Maker) -> None:
    cid = uuid.uuid4()
    await apply(db, customer(cid, AGENT_A), *(customer(uuid.uuid4(), referred_by=str(cid)) for _ in range(3)))
    today = NOW.date()
    logged = contact(cid, NOW - timedelta(days=1), next_follow_up_date=(today + timedelta(days=3)).isoformat())
    await apply(db, event("interaction.logged", logged))
    settings = ScoringSettings()

    async def due_date() -> int:
        async with db() as session:
            pop = await stats_repo.load(session, as_of=NOW, settings=settings, ids=[cid])
        scored = engine.score(pop, {}, settings)
        assert scored["key_customer_kind"][0] == "influence"
        return int(scored["care_due_date"][0]) - today.toordinal()

    assert await due_date() == 3  # the follow-up, before the cadence's 14 days
    await apply(db, event("interaction.updated", {**logged, "follow_up_done": True}, version=2))
    assert await due_date() == 14  # done: the cadence alone
