"""customer.unmerged moves back exactly the records customer.merged moved, and nothing else."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import httpx
from feedback_helpers import act, apply, count, create_complaint, make_customer
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_chassis.consumer import EventConsumer
from crm_chassis.events import Event
from crm_chassis.testing import internal_headers
from crm_feedback.complaints.models import Complaint
from crm_feedback.db import infra
from crm_feedback.readmodel.handlers import HANDLERS
from crm_feedback.readmodel.models import MergedRecord
from crm_feedback.service_records.models import ServiceRecord
from crm_feedback.suggestions.models import Suggestion
from crm_feedback.surveys.models import SurveyInvitation, SurveyResponse

Db = async_sessionmaker[AsyncSession]
RECORD_MODELS = (Complaint, Suggestion, ServiceRecord, SurveyInvitation, SurveyResponse)


async def placement(db: Db) -> dict[uuid.UUID, uuid.UUID | None]:
    """Every customer-linked record of the service, by id, with the customer it belongs to."""
    found: dict[uuid.UUID, uuid.UUID | None] = {}
    async with db() as session:
        for model in RECORD_MODELS:
            found.update({rid: cid for rid, cid in (await session.execute(select(model.id, model.customer_id))).all()})
    return found


async def versions(db: Db) -> dict[uuid.UUID, int]:
    found: dict[uuid.UUID, int] = {}
    async with db() as session:
        for model in (Complaint, Suggestion, ServiceRecord):
            found.update({rid: v for rid, v in (await session.execute(select(model.id, model.version))).all()})
    return found


async def file_everything(client: httpx.AsyncClient, customer_id: uuid.UUID) -> str:
    """One record of every kind for the customer: a resolved complaint whose CSAT invitation was
    answered (so an invitation and a response too), a suggestion and a service record. Returns the
    complaint's id."""
    complaint = await create_complaint(client, customer_id)
    for action in ("acknowledge", "start"):
        await act(client, complaint["id"], action)
    invitation = (await act(client, complaint["id"], "resolve")).json()["csat_invitation"]
    answered = await client.post(
        "/surveys/responses", json={"token": invitation["token"], "answers": {"satisfaction": 4}}
    )
    assert answered.status_code == 201, answered.text
    suggestion = await client.post(
        "/suggestions", json={"customer_id": str(customer_id), "topic": "app", "text": "Dark mode, please."}
    )
    assert suggestion.status_code == 201, suggestion.text
    record = await client.post(
        "/service-records",
        json={"customer_id": str(customer_id), "type": "repair", "service_date": "2026-11-01", "handler": "Wu"},
    )
    assert record.status_code == 201, record.text
    return str(complaint["id"])


def merged(survivor: uuid.UUID, duplicate: uuid.UUID) -> dict[str, Any]:
    return {"survivor_id": str(survivor), "duplicate_id": str(duplicate), "merge_id": str(uuid.uuid4())}


def unmerged(survivor: uuid.UUID, duplicate: uuid.UUID) -> dict[str, Any]:
    # `moved` names the customer service's own records; feedback has nothing under these kinds.
    moved = {"orders": [str(uuid.uuid4())], "interactions": [str(uuid.uuid4())]}
    return {"survivor_id": str(survivor), "duplicate_id": str(duplicate), "moved": moved}


def agent(owner: uuid.UUID) -> dict[str, str]:
    return internal_headers(subject=str(owner), role="agent")


async def visible_complaints(client: httpx.AsyncClient, owner: uuid.UUID) -> set[str]:
    listed = await client.get("/complaints", headers=agent(owner))
    assert listed.status_code == 200, listed.text
    return {c["id"] for c in listed.json()["items"]}


async def test_unmerge_moves_back_exactly_what_the_merge_moved(client: httpx.AsyncClient, db: Db) -> None:
    survivor_owner, duplicate_owner = uuid.uuid4(), uuid.uuid4()
    survivor = await make_customer(db, owner_id=survivor_owner)
    duplicate = await make_customer(db, owner_id=duplicate_owner)
    duplicates_complaint = await file_everything(client, duplicate)
    await file_everything(client, survivor)
    before, versions_before = await placement(db), await versions(db)
    duplicates_records = {rid for rid, cid in before.items() if cid == duplicate}
    assert len(duplicates_records) == len(RECORD_MODELS)
    assert await visible_complaints(client, duplicate_owner) == {duplicates_complaint}

    await apply(db, "customer.merged", merged(survivor, duplicate))
    assert set((await placement(db)).values()) == {survivor}
    assert await count(db, MergedRecord) == len(RECORD_MODELS)
    assert await visible_complaints(client, duplicate_owner) == set()
    assert duplicates_complaint in await visible_complaints(client, survivor_owner)
    filed_meanwhile = await create_complaint(client, survivor)

    await apply(db, "customer.unmerged", unmerged(survivor, duplicate))
    assert await placement(db) == {**before, uuid.UUID(filed_meanwhile["id"]): survivor}
    assert await count(db, MergedRecord) == 0, "an undone merge is forgotten"
    after = await versions(db)
    for rid, version in versions_before.items():
        moved_twice = rid in duplicates_records
        assert after[rid] == version + (2 if moved_twice else 0), rid
    seen_by_owner = await client.get(f"/complaints/{duplicates_complaint}", headers=agent(duplicate_owner))
    assert seen_by_owner.status_code == 200, seen_by_owner.text
    assert seen_by_owner.headers["etag"] == f'"{versions_before[uuid.UUID(duplicates_complaint)] + 2}"'
    assert await visible_complaints(client, duplicate_owner) == {duplicates_complaint}
    assert duplicates_complaint not in await visible_complaints(client, survivor_owner)
    assert filed_meanwhile["id"] in await visible_complaints(client, survivor_owner)


async def test_an_unknown_unmerge_changes_nothing(client: httpx.AsyncClient, db: Db) -> None:
    survivor, stranger, other_duplicate = [await make_customer(db) for _ in range(3)]
    for customer in (survivor, stranger, other_duplicate):
        await create_complaint(client, customer)
        await client.post("/suggestions", json={"customer_id": str(customer), "topic": "t", "text": "x"})
    await apply(db, "customer.merged", merged(survivor, other_duplicate))
    before, versions_before = await placement(db), await versions(db)

    # Neither of these pairs was merged: the survivor's records, its own and those moved from
    # another duplicate alike, stay where they are.
    await apply(db, "customer.unmerged", unmerged(survivor, stranger))
    await apply(db, "customer.unmerged", unmerged(stranger, other_duplicate))
    assert await placement(db) == before
    assert await versions(db) == versions_before
    assert await count(db, MergedRecord) == 2

    await apply(db, "customer.unmerged", unmerged(survivor, other_duplicate))
    assert sum(cid == other_duplicate for cid in (await placement(db)).values()) == 2


async def test_a_replayed_unmerge_is_harmless_and_a_merge_can_be_redone(client: httpx.AsyncClient, db: Db) -> None:
    survivor, duplicate = await make_customer(db), await make_customer(db)
    moved = await create_complaint(client, duplicate)
    await apply(db, "customer.merged", merged(survivor, duplicate))
    await apply(db, "customer.unmerged", unmerged(survivor, duplicate))
    on_survivor = await create_complaint(client, survivor)
    on_duplicate = await create_complaint(client, duplicate)
    before, versions_before = await placement(db), await versions(db)

    await apply(db, "customer.unmerged", unmerged(survivor, duplicate))
    assert await placement(db) == before
    assert await versions(db) == versions_before

    # Merged again after the undo, and undone again: the second merge is remembered afresh.
    await apply(db, "customer.merged", merged(survivor, duplicate))
    assert set((await placement(db)).values()) == {survivor}
    await apply(db, "customer.unmerged", unmerged(survivor, duplicate))
    assert await placement(db) == before
    assert before[uuid.UUID(moved["id"])] == duplicate
    assert before[uuid.UUID(on_duplicate["id"])] == duplicate
    assert before[uuid.UUID(on_survivor["id"])] == survivor


async def test_chained_merges_are_undone_one_at_a_time(client: httpx.AsyncClient, db: Db) -> None:
    first, second, third = [await make_customer(db) for _ in range(3)]
    for customer in (first, second, third):
        await create_complaint(client, customer)
    before = await placement(db)
    await apply(db, "customer.merged", merged(second, first))
    await apply(db, "customer.merged", merged(third, second))
    assert set((await placement(db)).values()) == {third}

    await apply(db, "customer.unmerged", unmerged(third, second))
    assert sorted(str(c) for c in (await placement(db)).values()) == sorted([str(third), str(second), str(second)])
    await apply(db, "customer.unmerged", unmerged(second, first))
    assert await placement(db) == before


class ListSource:
    """A feed that hands out the same events every time, as a producer re-sending them would."""

    def __init__(self, events: Sequence[Event]) -> None:
        self.events = list(events)

    async def fetch(self, after: int, limit: int, wait: float) -> list[Event]:
        return self.events[:limit]


def event(seq: int, type: str, data: dict[str, Any]) -> Event:
    return Event(
        id=uuid.uuid4(),
        seq=seq,
        type=type,
        occurred_at=datetime.now(UTC),
        aggregate_id=data["duplicate_id"],
        version=2,
        data=data,
    )


async def test_the_customer_feed_consumer_applies_unmerges(client: httpx.AsyncClient, db: Db) -> None:
    survivor, duplicate = await make_customer(db), await make_customer(db)
    await create_complaint(client, duplicate)
    before = await placement(db)
    source = ListSource(
        [
            event(1, "customer.merged", merged(survivor, duplicate)),
            event(2, "customer.unmerged", unmerged(survivor, duplicate)),
        ]
    )
    consumer = EventConsumer(name="customer-events", source=source, sessionmaker=db, tables=infra, handlers=HANDLERS)
    assert await consumer.poll_once(wait=0) == 2
    assert await placement(db) == before
    assert await count(db, MergedRecord) == 0
    assert await consumer.poll_once(wait=0) == 0, "events already applied are skipped"
    assert await placement(db) == before
