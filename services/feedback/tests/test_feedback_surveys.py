"""Survey definitions, versions, invitations with one-use tokens, answers and their validation."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from feedback_helpers import PROBLEM, act, count, create_complaint, make_customer, outbox
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_chassis.events import Event
from crm_chassis.testing import internal_headers
from crm_feedback.config import Settings
from crm_feedback.surveys.exits import scoring_handlers
from crm_feedback.surveys.models import SurveyInvitation, SurveyResponse

Db = async_sessionmaker[AsyncSession]

QUESTIONS: list[dict[str, Any]] = [
    {"key": "recommend", "type": "nps", "text": "Would you recommend us?"},
    {"key": "overall", "type": "rating", "text": "Overall satisfaction"},
    {"key": "speed", "type": "expectation_perception", "text": "Speed of service"},
    {"key": "store", "type": "single_choice", "text": "Which store?", "options": ["north", "south"]},
    {"key": "liked", "type": "multiple_choice", "text": "What did you like?", "options": ["price", "staff", "range"]},
    {"key": "comment", "type": "text", "text": "Anything else?", "required": False},
]
GOOD = {
    "recommend": 9,
    "overall": 4,
    "speed": {"expectation": 4, "perception": 5},
    "store": "north",
    "liked": ["price", "staff"],
}


async def make_survey(client: httpx.AsyncClient, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"title": "Autumn survey", "kind": "satisfaction", "questions": QUESTIONS}
    body.update(overrides)
    response = await client.post("/surveys", json=body)
    assert response.status_code == 201, response.text
    return response.json()


async def invite(
    client: httpx.AsyncClient, survey_id: str, customers: list[uuid.UUID], channel: str
) -> list[dict[str, Any]]:
    response = await client.post(
        f"/surveys/{survey_id}/invitations", json={"customer_ids": [str(c) for c in customers], "channel": channel}
    )
    assert response.status_code == 201, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def anonymous(client: httpx.AsyncClient) -> dict[str, str]:
    # The gateway forwards the public token endpoint with a principal that carries no role.
    return internal_headers(role=None, subject="anonymous", kind="api_key")  # type: ignore[arg-type]


async def test_definition_validation(client: httpx.AsyncClient) -> None:
    bad = await client.post(
        "/surveys",
        json={
            "title": "",
            "kind": "poll",
            "questions": [{"key": "Bad Key", "type": "slider", "text": "?"}],
            "owner": "me",
        },
    )
    assert bad.status_code == 422
    fields = {e["field"] for e in bad.json()["errors"]}
    assert {"body.title", "body.kind", "body.owner"} <= fields
    assert any(f.startswith("body.questions.0") for f in fields)
    no_options = await client.post(
        "/surveys",
        json={"title": "t", "kind": "satisfaction", "questions": [{"key": "a", "type": "single_choice", "text": "?"}]},
    )
    assert no_options.status_code == 422
    nps_without_nps = await client.post(
        "/surveys", json={"title": "t", "kind": "nps", "questions": [{"key": "a", "type": "text", "text": "?"}]}
    )
    assert nps_without_nps.status_code == 422
    duplicate_keys = await client.post(
        "/surveys",
        json={"title": "t", "kind": "satisfaction", "questions": [QUESTIONS[0], QUESTIONS[0]]},
    )
    assert duplicate_keys.status_code == 422


async def test_versions_keep_old_answers_tied(client: httpx.AsyncClient, customer_id: uuid.UUID) -> None:
    survey = await make_survey(client)
    assert survey["current_version"] == 1 and survey["questions"][5]["required"] is False
    url = f"/surveys/{survey['id']}"
    first = await client.post(
        f"{url}/responses", json={"customer_id": str(customer_id), "channel": "phone", "answers": GOOD}
    )
    assert first.status_code == 201, first.text
    assert (await client.patch(url, json={"title": "Renamed"})).status_code == 428
    renamed = await client.patch(url, json={"title": "Renamed"}, headers={"If-Match": '"1"'})
    assert renamed.json()["current_version"] == 1, "a title change is not a new version"
    new_questions = [*QUESTIONS[:2], {"key": "wait", "type": "rating", "text": "Waiting time"}]
    changed = await client.patch(url, json={"questions": new_questions}, headers={"If-Match": renamed.headers["etag"]})
    assert changed.status_code == 200 and changed.json()["current_version"] == 2
    second = await client.post(
        f"{url}/responses",
        json={
            "customer_id": str(customer_id),
            "channel": "phone",
            "answers": {"recommend": 3, "overall": 2, "wait": 1},
        },
    )
    assert second.status_code == 201, second.text
    responses = (await client.get(f"{url}/responses")).json()["items"]
    assert [(r["survey_version"], sorted(r["answers"])) for r in responses] == [
        (1, ["liked", "overall", "recommend", "speed", "store"]),
        (2, ["overall", "recommend", "wait"]),
    ]
    versions = (await client.get(f"{url}/versions")).json()["items"]
    assert [len(v["questions"]) for v in versions] == [6, 3]


async def test_every_bad_answer_is_listed_and_nothing_stored(
    client: httpx.AsyncClient, customer_id: uuid.UUID, db: Db
) -> None:
    survey = await make_survey(client)
    answers = {
        "recommend": 11,
        "overall": True,
        "speed": {"expectation": 0, "perception": 5},
        "store": "east",
        "liked": ["price", "price"],
        "comment": 42,
        "extra": "?",
    }
    response = await client.post(
        f"/surveys/{survey['id']}/responses",
        json={"customer_id": str(customer_id), "channel": "on_site", "answers": answers},
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    errors = {e["field"]: e["code"] for e in response.json()["errors"]}
    assert errors == {
        "body.answers.extra": "unknown_question",
        "body.answers.recommend": "out_of_range",
        "body.answers.overall": "out_of_range",
        "body.answers.speed": "out_of_range",
        "body.answers.store": "not_an_option",
        "body.answers.liked": "not_an_option",
        "body.answers.comment": "invalid_text",
    }
    missing = await client.post(
        f"/surveys/{survey['id']}/responses", json={"customer_id": str(customer_id), "channel": "phone", "answers": {}}
    )
    assert {e["field"] for e in missing.json()["errors"]} == {
        f"body.answers.{k}" for k in ("recommend", "overall", "speed", "store", "liked")
    }
    assert await count(db, SurveyResponse) == 0
    assert await outbox(db, "survey.responded") == []


async def test_online_token_answers_once(client: httpx.AsyncClient, customer_id: uuid.UUID, db: Db) -> None:
    survey = await make_survey(client)
    other = await make_customer(db)
    items = await invite(client, survey["id"], [customer_id, other], "online")
    assert [i["customer_id"] for i in items] == [str(customer_id), str(other)]
    assert all(i["token"] and i["expires_at"] for i in items)
    listed = (await client.get(f"/surveys/{survey['id']}/invitations")).json()["items"]
    assert all(i["token"] is None for i in listed), "a token is shown only once"
    async with db() as session:
        hashes = (await session.scalars(select(SurveyInvitation.token_hash))).all()
    assert items[0]["token"] not in hashes and len(hashes) == 2
    body = {"token": items[0]["token"], "answers": GOOD}
    answered = await client.post("/surveys/responses", json=body, headers=anonymous(client))
    assert answered.status_code == 201, answered.text
    stored = answered.json()
    assert stored["customer_id"] == str(customer_id) and stored["channel"] == "online"
    assert stored["scores"] == {"nps": 9, "csat": 4.0, "satisfaction_index": 1.25}
    again = await client.post("/surveys/responses", json=body, headers=anonymous(client))
    assert again.status_code == 409 and again.json()["code"] == "already_responded"
    unknown = await client.post("/surveys/responses", json={"token": "x" * 43, "answers": GOOD})
    assert unknown.status_code == 404
    event = (await outbox(db, "survey.responded"))[0]["data"]
    assert event["survey_kind"] == "satisfaction" and event["customer_id"] == str(customer_id)
    assert event["scores"] == {"nps": 9, "csat": 4.0, "satisfaction_index": 1.25}
    async with db.begin() as session:
        await session.execute(update(SurveyInvitation).values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
    expired = await client.post("/surveys/responses", json={"token": items[1]["token"], "answers": GOOD})
    assert expired.status_code == 410


async def test_invitations_need_known_customers(client: httpx.AsyncClient, customer_id: uuid.UUID, db: Db) -> None:
    survey = await make_survey(client)
    ghost = uuid.uuid4()
    response = await client.post(
        f"/surveys/{survey['id']}/invitations",
        json={"customer_ids": [str(customer_id), str(ghost)], "channel": "mail"},
    )
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["body.customer_ids.1"]
    assert await count(db, SurveyInvitation) == 0
    mail = await invite(client, survey["id"], [customer_id], "mail")
    assert mail[0]["token"] is None and mail[0]["expires_at"] is None
    entered = await client.post(
        f"/surveys/{survey['id']}/responses",
        json={"invitation_id": mail[0]["id"], "channel": "mail", "answers": GOOD},
    )
    assert entered.status_code == 201 and entered.json()["customer_id"] == str(customer_id)
    twice = await client.post(
        f"/surveys/{survey['id']}/responses",
        json={"invitation_id": mail[0]["id"], "channel": "mail", "answers": GOOD},
    )
    assert twice.status_code == 409


async def test_mystery_shopping_has_a_subject_not_a_customer(
    client: httpx.AsyncClient, customer_id: uuid.UUID, db: Db
) -> None:
    survey = await make_survey(
        client,
        kind="mystery_shopping",
        questions=[{"key": "greeting", "type": "rating", "text": "Was the shopper greeted?"}],
    )
    url = f"/surveys/{survey['id']}"
    refused = await client.post(f"{url}/invitations", json={"customer_ids": [str(customer_id)], "channel": "on_site"})
    assert refused.status_code == 409
    without = await client.post(f"{url}/responses", json={"channel": "on_site", "answers": {"greeting": 2}})
    assert without.status_code == 422 and without.json()["errors"][0]["field"] == "body.subject"
    report = await client.post(
        f"{url}/responses",
        json={
            "subject": {"type": "store", "id": "S-12", "name": "Nanjing Road"},
            "channel": "on_site",
            "answers": {"greeting": 2},
        },
    )
    assert report.status_code == 201
    assert report.json()["customer_id"] is None and report.json()["subject"]["name"] == "Nanjing Road"
    assert (await outbox(db, "survey.responded"))[0]["data"]["customer_id"] is None


async def test_resolving_a_complaint_sends_a_csat_invitation(
    client: httpx.AsyncClient, customer_id: uuid.UUID, settings: Settings
) -> None:
    complaint = await create_complaint(client, customer_id)
    for action in ("acknowledge", "start"):
        await act(client, complaint["id"], action)
    resolved = (await act(client, complaint["id"], "resolve")).json()
    invitation = resolved["csat_invitation"]
    assert invitation["customer_id"] == str(customer_id) and invitation["channel"] == "online"
    assert invitation["complaint_id"] == complaint["id"] and invitation["token"]
    survey = (await client.get(f"/surveys/{invitation['survey_id']}")).json()
    assert survey["kind"] == "csat"
    answer = await client.post(
        "/surveys/responses", json={"token": invitation["token"], "answers": {"satisfaction": 5}}
    )
    assert answer.status_code == 201 and answer.json()["scores"]["csat"] == 5.0
    reopened = await act(client, complaint["id"], "reopen")
    assert reopened.json()["csat_invitation"] is None
    settings.csat_on_resolve = False
    try:
        again = (await act(client, complaint["id"], "resolve")).json()
    finally:
        settings.csat_on_resolve = True
    assert again["csat_invitation"] is None
    assert len((await client.get(f"/surveys/{survey['id']}/invitations")).json()["items"]) == 1


async def test_churned_customers_get_the_exit_survey(
    client: httpx.AsyncClient, customer_id: uuid.UUID, db: Db, settings: Settings
) -> None:
    handler = scoring_handlers(settings)["score.churn_risk_raised"]

    def event(lifecycle: str, customer: uuid.UUID = customer_id) -> Event:
        return Event(
            id=uuid.uuid4(),
            seq=1,
            type="score.churn_risk_raised",
            occurred_at=datetime.now(UTC),
            aggregate_id=str(customer),
            version=1,
            data={"customer_id": str(customer), "churn_risk": 0.9, "reasons": [], "lifecycle_suggestion": lifecycle},
        )

    async with db.begin() as session:
        await handler(session, event("lost"))  # no exit survey yet: nothing to do
    assert await count(db, SurveyInvitation) == 0
    survey = await make_survey(
        client, kind="exit", questions=[{"key": "why", "type": "text", "text": "Why did you leave?"}]
    )
    async with db.begin() as session:
        await handler(session, event("at_risk"))
        await handler(session, event("lost"))
        await handler(session, event("lost"))  # already invited
        await handler(session, event("lost", uuid.uuid4()))  # unknown customer
    invitations = (await client.get(f"/surveys/{survey['id']}/invitations")).json()["items"]
    assert [(i["customer_id"], i["channel"]) for i in invitations] == [(str(customer_id), "phone")]
