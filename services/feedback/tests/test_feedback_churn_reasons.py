"""The reason question of a survey: its chosen options travel as churn reason codes on `survey.responded`."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from feedback_helpers import outbox
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

Db = async_sessionmaker[AsyncSession]
WHY: dict[str, Any] = {
    "key": "why",
    "type": "multiple_choice",
    "text": "Why did you stop buying from us?",
    "options": ["Too expensive", "A better offer elsewhere", "other"],
    "churn_reason": True,
    "reason_codes": {"Too expensive": "price", "A better offer elsewhere": "competitor"},
}
MORE = {"key": "more", "type": "text", "text": "Anything else?", "required": False}


async def define(client: httpx.AsyncClient, *questions: dict[str, Any]) -> httpx.Response:
    return await client.post("/surveys", json={"title": "Exit", "kind": "exit", "questions": list(questions)})


async def test_a_reason_question_must_map_every_choice_to_a_reason_code(client: httpx.AsyncClient) -> None:
    refused = [
        {**WHY, "reason_codes": {"Too expensive": "price"}},  # an option without a code
        {**WHY, "reason_codes": {**WHY["reason_codes"], "Too expensive": "costly"}},  # not a reason code
        {**WHY, "reason_codes": {**WHY["reason_codes"], "Bad weather": "other"}},  # not an option
        {"key": "why", "type": "text", "text": "Why?", "churn_reason": True},  # not a choice
        {**WHY, "churn_reason": False},  # reason codes on an ordinary question
    ]
    for question in refused:
        response = await define(client, question)
        assert response.status_code == 422, question
    twice = await define(client, WHY, {**WHY, "key": "why_again"})
    assert twice.status_code == 422
    ok = await define(client, WHY, MORE)
    assert ok.status_code == 201, ok.text
    assert ok.json()["questions"][0]["churn_reason"] is True
    assert ok.json()["questions"][0]["reason_codes"] == WHY["reason_codes"]


async def test_the_response_event_carries_the_chosen_reasons(
    client: httpx.AsyncClient, customer_id: uuid.UUID, db: Db
) -> None:
    survey = (await define(client, WHY, MORE)).json()
    answers = {"why": ["A better offer elsewhere", "Too expensive", "other"], "more": "x"}
    body = {"customer_id": str(customer_id), "channel": "phone", "answers": answers}
    answered = await client.post(f"/surveys/{survey['id']}/responses", json=body)
    assert answered.status_code == 201, answered.text
    (data,) = [e["data"] for e in await outbox(db, "survey.responded")]
    assert data["churn_reasons"] == ["competitor", "price", "other"]
    assert data["response_id"] == answered.json()["id"]


async def test_a_survey_without_a_reason_question_sends_no_reasons(
    client: httpx.AsyncClient, customer_id: uuid.UUID, db: Db
) -> None:
    plain = {**WHY, "churn_reason": False, "reason_codes": None}
    survey = (await define(client, plain)).json()
    body = {"customer_id": str(customer_id), "channel": "phone", "answers": {"why": ["Too expensive"]}}
    assert (await client.post(f"/surveys/{survey['id']}/responses", json=body)).status_code == 201
    (data,) = [e["data"] for e in await outbox(db, "survey.responded")]
    assert data["churn_reasons"] == []


async def test_the_exit_template_asks_the_reason_question(client: httpx.AsyncClient) -> None:
    for language in ("en", "zh-CN"):
        template = (await client.get("/surveys/templates/exit", headers={"Accept-Language": language})).json()
        (reason,) = [q for q in template["questions"] if q["churn_reason"]]
        assert reason["key"] == "reason" and set(reason["reason_codes"]) == set(reason["options"])
        assert reason["reason_codes"][reason["options"][0]] == "price"
