"""Every query on surveys, versions, invitations and responses."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select

from crm_chassis.identity import Principal
from crm_chassis.pagination import Page, paginate
from crm_feedback.db import Session
from crm_feedback.readmodel import repository as customer_repo
from crm_feedback.surveys.models import Survey, SurveyInvitation, SurveyResponse, SurveyVersion


def _live() -> Select[Survey]:
    """The surveys not deleted: every read of surveys starts here."""
    return select(Survey).where(Survey.deleted_at.is_(None))


async def get(session: Session, survey_id: uuid.UUID) -> Survey | None:
    return (await session.scalars(_live().where(Survey.id == survey_id))).one_or_none()


async def get_version(session: Session, survey_id: uuid.UUID, number: int) -> SurveyVersion | None:
    return (
        await session.scalars(
            select(SurveyVersion).where(SurveyVersion.survey_id == survey_id, SurveyVersion.number == number)
        )
    ).one_or_none()


async def versions(session: Session, survey_id: uuid.UUID, limit: int, cursor: str | None) -> Page[SurveyVersion]:
    stmt = select(SurveyVersion).where(SurveyVersion.survey_id == survey_id)
    return await paginate(session, stmt, [(SurveyVersion.number, False)], "number", limit, cursor)


async def active_of_kind(session: Session, kind: str) -> Survey | None:
    """The newest active survey of a kind."""
    stmt = (
        _live()
        .where(Survey.kind == kind, Survey.active.is_(True))
        .order_by(Survey.created_at.desc(), Survey.id.desc())
        .limit(1)
    )
    return (await session.scalars(stmt)).first()


async def list_page(
    session: Session, kind: str | None, active: bool | None, limit: int, cursor: str | None
) -> Page[Survey]:
    stmt = _live()
    if kind is not None:
        stmt = stmt.where(Survey.kind == kind)
    if active is not None:
        stmt = stmt.where(Survey.active.is_(active))
    order = [(Survey.created_at, False), (Survey.id, False)]
    return await paginate(session, stmt, order, "created_at", limit, cursor)


async def invitation_by_hash(session: Session, digest: str) -> SurveyInvitation | None:
    stmt = select(SurveyInvitation).where(SurveyInvitation.token_hash == digest).with_for_update()
    return (await session.scalars(stmt)).one_or_none()


async def get_invitation(session: Session, invitation_id: uuid.UUID) -> SurveyInvitation | None:
    return await session.get(SurveyInvitation, invitation_id, with_for_update=True)


async def has_pending_invitation(session: Session, survey_id: uuid.UUID, customer_id: uuid.UUID) -> bool:
    found = await session.scalar(
        select(SurveyInvitation.id)
        .where(
            SurveyInvitation.survey_id == survey_id,
            SurveyInvitation.customer_id == customer_id,
            SurveyInvitation.status == "pending",
        )
        .limit(1)
    )
    return found is not None


async def invitations_page(
    session: Session, survey_id: uuid.UUID, limit: int, cursor: str | None, principal: Principal
) -> Page[SurveyInvitation]:
    stmt = select(SurveyInvitation).where(
        SurveyInvitation.survey_id == survey_id,
        customer_repo.visible_to(principal, SurveyInvitation.customer_id, SurveyInvitation.created_by),
    )
    order = [(SurveyInvitation.created_at, False), (SurveyInvitation.id, False)]
    return await paginate(session, stmt, order, "created_at", limit, cursor)


async def responses_page(
    session: Session, survey_id: uuid.UUID, limit: int, cursor: str | None, principal: Principal
) -> Page[SurveyResponse]:
    stmt = select(SurveyResponse).where(
        SurveyResponse.survey_id == survey_id,
        customer_repo.visible_to(principal, SurveyResponse.customer_id, SurveyResponse.entered_by),
    )
    order = [(SurveyResponse.responded_at, False), (SurveyResponse.id, False)]
    return await paginate(session, stmt, order, "responded_at", limit, cursor)


async def responses_of_customer(session: Session, customer_id: uuid.UUID) -> Sequence[SurveyResponse]:
    return (await session.scalars(select(SurveyResponse).where(SurveyResponse.customer_id == customer_id))).all()


async def get_response(session: Session, survey_id: uuid.UUID, response_id: uuid.UUID) -> SurveyResponse | None:
    found = await session.get(SurveyResponse, response_id)
    return found if found is not None and found.survey_id == survey_id else None


async def add_survey(
    session: Session,
    *,
    title: str,
    kind: str,
    description: str | None,
    active: bool,
    questions: list[dict[str, Any]],
    actor: str,
    at: datetime,
) -> Survey:
    """A new survey with its first version of the questions."""
    survey = Survey(
        id=uuid.uuid4(),
        title=title,
        kind=kind,
        description=description,
        active=active,
        current_version=1,
        created_by=actor,
        created_at=at,
        updated_at=at,
    )
    session.add(survey)
    await session.flush()
    session.add(SurveyVersion(survey_id=survey.id, number=1, questions=questions))
    await session.flush()
    return survey
