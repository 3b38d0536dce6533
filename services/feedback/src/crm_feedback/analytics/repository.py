"""Column reads for analytics (no ORM objects: these scan many rows)."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any, TypeAlias, TypeVarTuple

from sqlalchemy import Row, Select, and_, case, func, literal, or_, select

from crm_feedback.complaints.models import Complaint
from crm_feedback.complaints.workflow import OPEN_STATUSES
from crm_feedback.db import Session
from crm_feedback.readmodel.models import CustomerRef
from crm_feedback.surveys.models import Survey, SurveyInvitation, SurveyResponse

OPEN = [s.value for s in OPEN_STATUSES]
Ts = TypeVarTuple("Ts")

_At = datetime | None
_Sum = int | None  # a SUM over no rows is NULL
# id, survey_id, customer_id, channel, responded_at, nps_score, csat_score, satisfaction_index
ResponseRow: TypeAlias = Row[
    uuid.UUID, uuid.UUID, uuid.UUID | None, str, datetime, int | None, float | None, float | None
]
# bucket, then the columns of `_score_columns` in their order
TotalsRow: TypeAlias = Row[int, int, int, _Sum, _Sum, int, _Sum, int, float | None, _Sum, _At, _At]
# category, channel, severity, status, opened_at, then the other timestamps `complaints` selects
ComplaintRow: TypeAlias = Row[str, str, str, str, datetime, _At, _At, _At, _At, _At, _At, _At]
OpenComplaintRow: TypeAlias = Row[str, datetime]  # severity, opened_at


def _narrowed(
    stmt: Select[*Ts], when: Any, start: datetime | None, end: datetime | None, equal: dict[Any, uuid.UUID | None]
) -> Select[*Ts]:
    """`stmt` within [start, end) on `when`, and each column of `equal` equal to its value; a None
    bound or value is no condition."""
    if start is not None:
        stmt = stmt.where(when >= start)
    if end is not None:
        stmt = stmt.where(when < end)
    for column, value in equal.items():
        if value is not None:
            stmt = stmt.where(column == value)
    return stmt


async def responses(
    session: Session,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    survey_id: uuid.UUID | None = None,
    kind: str | None = None,
    customer_id: uuid.UUID | None = None,
) -> Sequence[ResponseRow]:
    stmt = select(
        SurveyResponse.id,
        SurveyResponse.survey_id,
        SurveyResponse.customer_id,
        SurveyResponse.channel,
        SurveyResponse.responded_at,
        SurveyResponse.nps_score,
        SurveyResponse.csat_score,
        SurveyResponse.satisfaction_index,
    )
    stmt = _narrowed(
        stmt,
        SurveyResponse.responded_at,
        start,
        end,
        {SurveyResponse.survey_id: survey_id, SurveyResponse.customer_id: customer_id},
    )
    if kind is not None:
        stmt = stmt.join(Survey, Survey.id == SurveyResponse.survey_id).where(Survey.kind == kind)
    return (await session.execute(stmt.order_by(SurveyResponse.responded_at, SurveyResponse.id))).all()


async def answers(session: Session, survey_id: uuid.UUID) -> Sequence[dict[str, Any]]:
    stmt = select(SurveyResponse.answers).where(SurveyResponse.survey_id == survey_id)
    return (await session.scalars(stmt.order_by(SurveyResponse.responded_at, SurveyResponse.id))).all()


def _score_columns() -> list[Any]:
    r = SurveyResponse
    return [
        func.count().label("responses"),
        func.count(r.nps_score).label("nps_n"),
        func.sum(case((r.nps_score >= 9, 1), else_=0)).label("promoters"),
        func.sum(case((r.nps_score <= 6, 1), else_=0)).label("detractors"),
        func.count(r.csat_score).label("csat_n"),
        func.sum(case((r.csat_score >= 4, 1), else_=0)).label("satisfied"),
        func.count(r.satisfaction_index).label("index_n"),
        func.sum(r.satisfaction_index).label("index_sum"),
        func.sum(case((r.satisfaction_index < 1, 1), else_=0)).label("index_low"),
        func.min(r.responded_at).label("first_at"),
        func.max(r.responded_at).label("last_at"),
    ]


async def score_totals(
    session: Session,
    *,
    bounds: Sequence[datetime] = (),
    start: datetime | None = None,
    end: datetime | None = None,
    survey_id: uuid.UUID | None = None,
    kind: str | None = None,
) -> dict[int, TotalsRow]:
    """Counts and sums behind NPS, CSAT and the satisfaction index, in one scan.

    With `bounds` [b0, b1, ..., bn] the totals are grouped by bucket (index i for [b_i, b_i+1));
    without, everything is bucket 0. The database adds up; no response row leaves it.
    """
    bucket: Any = literal(0)
    if len(bounds) > 1:
        whens = [(SurveyResponse.responded_at < upper, i) for i, upper in enumerate(bounds[1:])]
        bucket = case(*whens, else_=len(bounds) - 1)
    labelled = bucket.label("bucket")
    stmt = select(labelled, *_score_columns()).group_by(labelled)
    stmt = _narrowed(stmt, SurveyResponse.responded_at, start, end, {SurveyResponse.survey_id: survey_id})
    if kind is not None:
        stmt = stmt.join(Survey, Survey.id == SurveyResponse.survey_id).where(Survey.kind == kind)
    return {int(row.bucket): row for row in (await session.execute(stmt)).all()}


async def invitation_counts(
    session: Session,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    survey_id: uuid.UUID | None = None,
    customer_id: uuid.UUID | None = None,
) -> dict[str, tuple[int, int]]:
    """Per channel: (invitations, invitations answered), by when the invitation was made."""
    answered = func.sum(case((SurveyInvitation.status == "responded", 1), else_=0))
    stmt = select(SurveyInvitation.channel, func.count(), answered).group_by(SurveyInvitation.channel)
    stmt = _narrowed(
        stmt,
        SurveyInvitation.created_at,
        start,
        end,
        {SurveyInvitation.survey_id: survey_id, SurveyInvitation.customer_id: customer_id},
    )
    return {channel: (int(total), int(done or 0)) for channel, total, done in (await session.execute(stmt)).all()}


async def complaint_categories_of_respondents(session: Session, survey_id: uuid.UUID) -> list[tuple[str, int]]:
    respondents = (
        select(SurveyResponse.customer_id)
        .where(SurveyResponse.survey_id == survey_id, SurveyResponse.customer_id.is_not(None))
        .distinct()
    )
    stmt = (
        select(Complaint.category, func.count())
        .where(Complaint.customer_id.in_(respondents))
        .group_by(Complaint.category)
        .order_by(func.count().desc(), Complaint.category)
    )
    return [(category, int(n)) for category, n in (await session.execute(stmt)).all()]


async def complaints(session: Session, *, start: datetime, end: datetime) -> Sequence[ComplaintRow]:
    stmt = select(
        Complaint.category,
        Complaint.channel,
        Complaint.severity,
        Complaint.status,
        Complaint.opened_at,
        Complaint.first_responded_at,
        Complaint.resolved_at,
        Complaint.first_response_due_at,
        Complaint.resolution_due_at,
        Complaint.first_response_breached_at,
        Complaint.resolution_breached_at,
        Complaint.paused_since,
    ).where(Complaint.opened_at >= start, Complaint.opened_at < end)
    return (await session.execute(stmt)).all()


async def open_complaints(session: Session) -> Sequence[OpenComplaintRow]:
    stmt = select(Complaint.severity, Complaint.opened_at).where(Complaint.status.in_(OPEN))
    return (await session.execute(stmt)).all()


async def resolved_by_owner(
    session: Session, *, start: datetime, end: datetime, owners: Collection[uuid.UUID] | None
) -> Sequence[Row[uuid.UUID, int, int]]:
    """(owner, complaints resolved in [start, end), of them within their resolution target) per
    current owner of the complaint's customer. Within: no resolution breach was recorded and, where
    a target was set, the resolution came by it; a complaint with no target counts as within."""
    within = and_(
        Complaint.resolution_breached_at.is_(None),
        or_(Complaint.resolution_due_at.is_(None), Complaint.resolved_at <= Complaint.resolution_due_at),
    )
    stmt = (
        select(CustomerRef.owner_id, func.count(), func.coalesce(func.sum(case((within, 1), else_=0)), 0))
        .join(CustomerRef, CustomerRef.id == Complaint.customer_id)
        .where(
            CustomerRef.owner_id.is_not(None),
            CustomerRef.deleted.is_(False),
            Complaint.resolved_at >= start,
            Complaint.resolved_at < end,
        )
        .group_by(CustomerRef.owner_id)
        .order_by(CustomerRef.owner_id)
    )
    if owners is not None:
        stmt = stmt.where(CustomerRef.owner_id.in_(list(owners)))
    return (await session.execute(stmt)).all()  # type: ignore[return-value]
