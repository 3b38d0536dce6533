"""Every query on surveys, versions, invitations and responses."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_chassis.pagination import paginate
from crm_feedback.surveys.models import Survey, SurveyInvitation, SurveyResponse, SurveyVersion


async def get(session: AsyncSession, survey_id: uuid.UUID) -> Survey | None:
    return (
        await session.scalars(select(Survey).where(Survey.id == survey_id, Survey.deleted_at.is_(None)))
    ).one_or_none()


async def get_version(session: AsyncSession, survey_id: uuid.UUID, number: int) -> SurveyVersion | None:
    return (
        await session.scalars(
            select(SurveyVersion).where(SurveyVersion.survey_id == survey_id, SurveyVersion.number == number)
        )
    ).one_or_none()


async def versions(session: AsyncSession, survey_id: uuid.UUID) -> Sequence[SurveyVersion]:
    return (
        await session.scalars(
            select(SurveyVersion).where(SurveyVersion.survey_id == survey_id).order_by(SurveyVersion.number)
        )
    ).all()


async def active_of_kind(session: AsyncSession, kind: str) -> Survey | None:
    """The newest active survey of a kind."""
    stmt = (
        select(Survey)
        .where(Survey.kind == kind, Survey.active.is_(True), Survey.deleted_at.is_(None))
        .order_by(Survey.created_at.desc(), Survey.id.desc())
        .limit(1)
    )
    return (await session.scalars(stmt)).first()


async def list_page(
    session: AsyncSession, kind: str | None, active: bool | None, limit: int, cursor: str | None
) -> tuple[Sequence[Survey], str | None]:
    stmt = select(Survey).where(Survey.deleted_at.is_(None))
    if kind is not None:
        stmt = stmt.where(Survey.kind == kind)
    if active is not None:
        stmt = stmt.where(Survey.active.is_(active))
    order = [(Survey.created_at, False), (Survey.id, False)]
    return await paginate(session, stmt, order, "created_at", limit, cursor)


async def invitation_by_hash(session: AsyncSession, digest: str) -> SurveyInvitation | None:
    stmt = select(SurveyInvitation).where(SurveyInvitation.token_hash == digest).with_for_update()
    return (await session.scalars(stmt)).one_or_none()


async def get_invitation(session: AsyncSession, invitation_id: uuid.UUID) -> SurveyInvitation | None:
    return await session.get(SurveyInvitation, invitation_id, with_for_update=True)


async def has_pending_invitation(session: AsyncSession, survey_id: uuid.UUID, customer_id: uuid.UUID) -> bool:
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
    session: AsyncSession, survey_id: uuid.UUID, limit: int, cursor: str | None
) -> tuple[Sequence[SurveyInvitation], str | None]:
    stmt = select(SurveyInvitation).where(SurveyInvitation.survey_id == survey_id)
    order = [(SurveyInvitation.created_at, False), (SurveyInvitation.id, False)]
    return await paginate(session, stmt, order, "created_at", limit, cursor)


async def responses_page(
    session: AsyncSession, survey_id: uuid.UUID, limit: int, cursor: str | None
) -> tuple[Sequence[SurveyResponse], str | None]:
    stmt = select(SurveyResponse).where(SurveyResponse.survey_id == survey_id)
    order = [(SurveyResponse.responded_at, False), (SurveyResponse.id, False)]
    return await paginate(session, stmt, order, "responded_at", limit, cursor)


async def get_response(session: AsyncSession, survey_id: uuid.UUID, response_id: uuid.UUID) -> SurveyResponse | None:
    found = await session.get(SurveyResponse, response_id)
    return found if found is not None and found.survey_id == survey_id else None
