"""A merged-away customer takes no new feedback: every write naming it answers 409 `customer_merged`
with the survivor, as the customer service does, until the merge is undone."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from feedback_helpers import PROBLEM, act, apply, count, create_complaint, make_customer, outbox
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_chassis.events import Event
from crm_chassis.testing import internal_headers
from crm_feedback.common.customers import CustomerMerged
from crm_feedback.complaints import service as complaint_service
from crm_feedback.complaints.models import Complaint
from crm_feedback.complaints.schemas import ComplaintCreate
from crm_feedback.config import Settings
from crm_feedback.readmodel.handlers import HANDLERS
from crm_feedback.readmodel.models import CustomerRef
from crm_feedback.service_records.models import ServiceRecord
from crm_feedback.suggestions.models import Suggestion
from crm_feedback.surveys.exits import scoring_handlers
from crm_feedback.surveys.models import SurveyInvitation, SurveyResponse

Db = async_sessionmaker[AsyncSession]
RECORD_MODELS = (Complaint, Suggestion, ServiceRecord, SurveyInvitation, SurveyResponse)
QUESTIONS = [{"key": "overall", "type": "rating", "text": "Overall satisfaction"}]


def merged(survivor: uuid.UUID, duplicate: uuid.UUID) -> dict[str, Any]:
    return {"survivor_id": str(survivor), "duplicate_id": str(duplicate), "merge_id": str(uuid.uuid4())}


def unmerged(survivor: uuid.UUID, duplicate: uuid.UUID) -> dict[str, Any]:
    return {"survivor_id": str(survivor), "duplicate_id": str(duplicate), "moved": {}}


def agent(owner: uuid.UUID) -> dict[str, str]:
    return internal_headers(subject=str(owner), role="agent")


async def make_survey(client: httpx.AsyncClient) -> str:
    response = await client.post("/surveys", json={"title": "Autumn", "kind": "satisfaction", "questions": QUESTIONS})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def writes(customer: uuid.UUID, survey_id: str) -> list[tuple[str, str, dict[str, Any]]]:
    """One write of every kind that names a customer."""
    cid = str(customer)
    return [
        (
            "complaint",
            "/complaints",
            {"customer_id": cid, "channel": "phone", "category": "delivery", "severity": "high", "description": "x"},
        ),
        ("suggestion", "/suggestions", {"customer_id": cid, "topic": "app", "text": "Dark mode"}),
        (
            "service record",
            "/service-records",
            {"customer_id": cid, "type": "repair", "service_date": "2026-11-01", "handler": "Wu"},
        ),
        ("invitation", f"/surveys/{survey_id}/invitations", {"customer_ids": [cid], "channel": "mail"}),
        (
            "staff response",
            f"/surveys/{survey_id}/responses",
            {"customer_id": cid, "channel": "phone", "answers": {"overall": 4}},
        ),
    ]


async def record_counts(db: Db) -> dict[str, int]:
    return {model.__tablename__: await count(db, model) for model in RECORD_MODELS}


async def merged_into(db: Db, customer: uuid.UUID) -> uuid.UUID | None:
    async with db() as session:
        return await session.scalar(select(CustomerRef.merged_into).where(CustomerRef.id == customer))


def assert_merged(response: httpx.Response, survivor: uuid.UUID, what: str) -> None:
    assert response.status_code == 409, (what, response.text)
    assert response.headers["content-type"] == PROBLEM, what
    body = response.json()
    assert body["code"] == "customer_merged", what
    assert body["merged_into"] == str(survivor), what


async def test_every_write_on_a_merged_away_customer_is_refused(client: httpx.AsyncClient, db: Db) -> None:
    owner = uuid.uuid4()
    survivor, duplicate = await make_customer(db, owner_id=owner), await make_customer(db, owner_id=owner)
    survey_id = await make_survey(client)
    await apply(db, "customer.merged", merged(survivor, duplicate))
    assert await merged_into(db, duplicate) == survivor
    assert await merged_into(db, survivor) is None

    for headers in ({}, agent(owner)):
        for what, path, body in writes(duplicate, survey_id):
            assert_merged(await client.post(path, json=body, headers=headers), survivor, what)
    # Another agent's merged-away customer is unknown to them: the answer does not name the survivor.
    for what, path, body in writes(duplicate, survey_id):
        response = await client.post(path, json=body, headers=agent(uuid.uuid4()))
        assert response.status_code == 422, (what, response.text)
        assert response.json()["errors"][0]["code"] == "unknown_customer", what
        assert str(survivor) not in response.text, what
    assert set((await record_counts(db)).values()) == {0}, "nothing is written"
    assert await outbox(db) == [], "and nothing is announced"

    # The survivor takes every kind of write as before.
    for what, path, body in writes(survivor, survey_id):
        response = await client.post(path, json=body, headers=agent(owner))
        assert response.status_code == 201, (what, response.text)
    assert set((await record_counts(db)).values()) == {1}


async def test_a_batch_of_invitations_names_every_merged_customer(client: httpx.AsyncClient, db: Db) -> None:
    survivor, other = await make_customer(db), await make_customer(db)
    first, second = await make_customer(db), await make_customer(db)
    survey_id = await make_survey(client)
    await apply(db, "customer.merged", merged(survivor, first))
    await apply(db, "customer.merged", merged(other, second))
    response = await client.post(
        f"/surveys/{survey_id}/invitations",
        json={"customer_ids": [str(survivor), str(first), str(uuid.uuid4()), str(second)], "channel": "mail"},
    )
    assert_merged(response, survivor, "batch")
    errors = response.json()["errors"]
    assert [(e["field"], e["code"], e["merged_into"]) for e in errors] == [
        ("body.customer_ids.1", "customer_merged", str(survivor)),
        ("body.customer_ids.3", "customer_merged", str(other)),
    ]
    assert await count(db, SurveyInvitation) == 0


async def test_writes_on_the_duplicate_succeed_again_after_the_unmerge(client: httpx.AsyncClient, db: Db) -> None:
    survivor, duplicate = await make_customer(db), await make_customer(db)
    survey_id = await make_survey(client)
    await apply(db, "customer.merged", merged(survivor, duplicate))
    refused = await client.post("/suggestions", json={"customer_id": str(duplicate), "topic": "t", "text": "x"})
    assert_merged(refused, survivor, "suggestion")

    # Only the undo of this very merge clears the mark.
    await apply(db, "customer.unmerged", unmerged(uuid.uuid4(), duplicate))
    assert await merged_into(db, duplicate) == survivor
    await apply(db, "customer.unmerged", unmerged(survivor, duplicate))
    assert await merged_into(db, duplicate) is None

    for what, path, body in writes(duplicate, survey_id):
        response = await client.post(path, json=body)
        assert response.status_code == 201, (what, response.text)
    async with db() as session:
        for model in RECORD_MODELS:
            owners = (await session.scalars(select(model.customer_id))).all()
            assert owners == [duplicate], model.__tablename__


async def test_a_merge_of_an_unseen_customer_is_remembered(client: httpx.AsyncClient, db: Db) -> None:
    survivor, duplicate = await make_customer(db), uuid.uuid4()
    await apply(db, "customer.merged", merged(survivor, duplicate))
    # The customer's own events arrive late; they fill in its facts and keep the merge.
    await apply(db, "customer.created", {"id": str(duplicate), "kind": "individual", "name": "Bo"}, version=1)
    assert await merged_into(db, duplicate) == survivor
    refused = await client.post(
        "/complaints",
        json={
            "customer_id": str(duplicate),
            "channel": "phone",
            "category": "delivery",
            "severity": "low",
            "description": "x",
        },
    )
    assert_merged(refused, survivor, "complaint")
    assert await count(db, Complaint) == 0


async def test_invitations_follow_the_customer_and_answers_never_land_on_the_duplicate(
    client: httpx.AsyncClient, db: Db
) -> None:
    survivor, duplicate = await make_customer(db), await make_customer(db)
    survey_id = await make_survey(client)
    online = await client.post(
        f"/surveys/{survey_id}/invitations", json={"customer_ids": [str(duplicate)], "channel": "online"}
    )
    mail = await client.post(
        f"/surveys/{survey_id}/invitations", json={"customer_ids": [str(duplicate)], "channel": "mail"}
    )
    assert online.status_code == mail.status_code == 201
    token, mail_id = online.json()["items"][0]["token"], mail.json()["items"][0]["id"]
    await apply(db, "customer.merged", merged(survivor, duplicate))

    # Moved to the survivor with the rest: answering them stores the answer there.
    answered = await client.post("/surveys/responses", json={"token": token, "answers": {"overall": 5}})
    assert answered.status_code == 201, answered.text
    assert answered.json()["customer_id"] == str(survivor)
    # Naming the duplicate beside its (moved) invitation is refused as merged, not as a mismatch.
    named = await client.post(
        f"/surveys/{survey_id}/responses",
        json={"invitation_id": mail_id, "customer_id": str(duplicate), "channel": "mail", "answers": {"overall": 3}},
    )
    assert_merged(named, survivor, "staff response naming the duplicate")
    assert await count(db, SurveyResponse) == 1


async def test_an_invitation_left_on_a_merged_customer_takes_no_answer(client: httpx.AsyncClient, db: Db) -> None:
    survivor, duplicate = await make_customer(db), await make_customer(db)
    survey_id = await make_survey(client)
    online = await client.post(
        f"/surveys/{survey_id}/invitations", json={"customer_ids": [str(duplicate)], "channel": "online"}
    )
    mail = await client.post(
        f"/surveys/{survey_id}/invitations", json={"customer_ids": [str(duplicate)], "channel": "mail"}
    )
    token, mail_id = online.json()["items"][0]["token"], mail.json()["items"][0]["id"]
    await apply(db, "customer.merged", merged(survivor, duplicate))
    # As if the merge had missed them.
    async with db.begin() as session:
        await session.execute(update(SurveyInvitation).values(customer_id=duplicate))
    by_token = await client.post("/surveys/responses", json={"token": token, "answers": {"overall": 5}})
    assert_merged(by_token, survivor, "token response")
    by_staff = await client.post(
        f"/surveys/{survey_id}/responses", json={"invitation_id": mail_id, "channel": "mail", "answers": {"overall": 3}}
    )
    assert_merged(by_staff, survivor, "staff response by invitation")
    assert await count(db, SurveyResponse) == 0
    async with db() as session:
        statuses = (await session.scalars(select(SurveyInvitation.status))).all()
    assert statuses == ["pending", "pending"]


async def test_reads_by_a_merged_away_customer_still_answer(client: httpx.AsyncClient, db: Db) -> None:
    survivor, duplicate = await make_customer(db), await make_customer(db)
    complaint = await create_complaint(client, duplicate)
    for action in ("acknowledge", "start"):
        await act(client, complaint["id"], action)
    assert (await act(client, complaint["id"], "resolve")).status_code == 200
    await apply(db, "customer.merged", merged(survivor, duplicate))
    for path in ("/complaints", "/suggestions", "/service-records"):
        response = await client.get(path, params={"customer_id": str(duplicate)})
        assert response.status_code == 200, (path, response.text)
        assert response.json()["items"] == [], path
    moved = (await client.get("/complaints", params={"customer_id": str(survivor)})).json()["items"]
    assert [c["id"] for c in moved] == [complaint["id"]]
    satisfaction = await client.get(f"/analytics/satisfaction/customers/{duplicate}")
    assert satisfaction.status_code == 200, satisfaction.text
    # The moved complaint can still be worked on.
    assert (await act(client, complaint["id"], "close")).status_code == 200


async def test_no_exit_survey_for_a_merged_away_customer(client: httpx.AsyncClient, db: Db, settings: Settings) -> None:
    survivor, duplicate = await make_customer(db), await make_customer(db)
    survey = await client.post(
        "/surveys", json={"title": "Exit", "kind": "exit", "questions": [{"key": "why", "type": "text", "text": "?"}]}
    )
    assert survey.status_code == 201
    await apply(db, "customer.merged", merged(survivor, duplicate))
    handler = scoring_handlers(settings)["score.churn_risk_raised"]
    event = Event(
        id=uuid.uuid4(),
        seq=1,
        type="score.churn_risk_raised",
        occurred_at=datetime.now(UTC),
        aggregate_id=str(duplicate),
        version=1,
        data={"customer_id": str(duplicate), "lifecycle_suggestion": "lost"},
    )
    async with db.begin() as session:
        await handler(session, event)
    assert await count(db, SurveyInvitation) == 0


async def test_a_record_filed_during_a_merge_moves_with_the_rest(
    client: httpx.AsyncClient, db: Db, database_url: str
) -> None:
    if database_url.startswith("sqlite"):
        pytest.skip("SQLite runs one writer at a time; the row locks matter on PostgreSQL")
    survivor, duplicate = await make_customer(db), await make_customer(db)
    data = ComplaintCreate(
        customer_id=duplicate, channel="phone", category="delivery", severity="low", description="meanwhile"
    )
    merge_event = Event(
        id=uuid.uuid4(),
        seq=1,
        type="customer.merged",
        occurred_at=datetime.now(UTC),
        aggregate_id=str(duplicate),
        version=5,
        data=merged(survivor, duplicate),
    )

    async def run_merge() -> None:
        async with db.begin() as session:
            await HANDLERS["customer.merged"](session, merge_event)

    async with db.begin() as writer:
        filed = await complaint_service.create(writer, data=data, actor="agent-1")
        merging = asyncio.create_task(run_merge())
        await asyncio.sleep(0.5)
        assert not merging.done(), "the merge waits for the write that checked the customer"
    await asyncio.wait_for(merging, timeout=10)
    async with db() as session:
        assert await session.scalar(select(Complaint.customer_id).where(Complaint.id == filed.id)) == survivor
        assert await session.scalar(select(func.count()).select_from(Complaint)) == 1

    # And a write that comes second sees the merge.
    async with db() as session:
        with pytest.raises(CustomerMerged) as refused:
            await complaint_service.create(session, data=data, actor="agent-1")
    assert refused.value.extra == {"merged_into": str(survivor)}
