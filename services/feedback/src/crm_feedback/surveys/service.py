"""Survey definitions and their versions."""

from __future__ import annotations

import uuid

from crm_chassis.db import utcnow
from crm_chassis.errors import NotFound, Unprocessable
from crm_chassis.pagination import Page
from crm_chassis.patching import changes_of
from crm_feedback.db import Session
from crm_feedback.surveys import repository as survey_repo
from crm_feedback.surveys.models import Survey, SurveyVersion
from crm_feedback.surveys.schemas import (
    Question,
    SurveyCreate,
    SurveyKind,
    SurveyRead,
    SurveyUpdate,
    check_questions,
)


def _questions_json(questions: list[Question]) -> list[dict[str, object]]:
    return [q.model_dump(exclude_none=True, mode="json") for q in questions]


async def create(session: Session, *, data: SurveyCreate, actor: str) -> Survey:
    return await survey_repo.add_survey(
        session,
        title=data.title,
        kind=data.kind,
        description=data.description,
        active=data.active,
        questions=_questions_json(data.questions),
        actor=actor,
        at=utcnow(),
    )


async def get(session: Session, *, survey_id: uuid.UUID) -> Survey:
    survey = await survey_repo.get(session, survey_id)
    if survey is None:
        raise NotFound(f"survey {survey_id} does not exist", code="survey_not_found")
    return survey


async def questions(session: Session, survey: Survey, number: int | None = None) -> list[Question]:
    version = await survey_repo.get_version(session, survey.id, number or survey.current_version)
    if version is None:
        raise NotFound(f"survey {survey.id} has no version {number}", code="survey_version_not_found")
    return [Question.model_validate(q) for q in version.questions]


async def read_model(session: Session, survey: Survey) -> SurveyRead:
    return SurveyRead(
        id=survey.id,
        title=survey.title,
        kind=SurveyKind(survey.kind),
        description=survey.description,
        active=survey.active,
        current_version=survey.current_version,
        questions=await questions(session, survey),
        created_at=survey.created_at,
        updated_at=survey.updated_at,
        version=survey.version,
    )


async def update(session: Session, *, survey: Survey, data: SurveyUpdate) -> Survey:
    fields = changes_of(data, not_nullable=("title", "active", "questions"))
    if data.questions is not None:
        try:
            check_questions(SurveyKind(survey.kind), data.questions)
        except ValueError as exc:
            raise Unprocessable(
                "invalid input: questions",
                errors=[{"field": "questions", "code": "invalid_questions", "message": str(exc)}],
            ) from exc
        new = _questions_json(data.questions)
        current = await survey_repo.get_version(session, survey.id, survey.current_version)
        if current is None or current.questions != new:
            survey.current_version += 1
            session.add(SurveyVersion(survey_id=survey.id, number=survey.current_version, questions=new))
    for name in ("title", "description", "active"):
        if name in fields:
            setattr(survey, name, fields[name])
    survey.updated_at = utcnow()
    await session.flush()
    return survey


async def delete(session: Session, *, survey: Survey) -> None:
    survey.deleted_at = survey.updated_at = utcnow()
    survey.active = False
    await session.flush()


async def list_page(
    session: Session, *, kind: str | None, active: bool | None, limit: int, cursor: str | None
) -> Page[Survey]:
    return await survey_repo.list_page(session, kind, active, limit, cursor)


async def versions(session: Session, *, survey: Survey, limit: int, cursor: str | None) -> Page[SurveyVersion]:
    return await survey_repo.versions(session, survey.id, limit, cursor)
