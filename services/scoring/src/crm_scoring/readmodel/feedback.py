"""Complaints and survey responses from the feedback service (its own feed, its own consumer)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from crm_chassis.consumer import Handler
from crm_chassis.events import Event
from crm_scoring.db import Session
from crm_scoring.readmodel import repository as fact_repo
from crm_scoring.readmodel.models import ComplaintFact, ServiceRecordFact, SurveyResponseFact
from crm_scoring.reasons import service as reason_service
from crm_scoring.scores import service as score_service


class ComplaintFacts(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: uuid.UUID
    customer_id: uuid.UUID
    category: str | None = None
    severity: str | None = None
    status: str | None = None
    opened_at: datetime | None = None
    resolved_at: datetime | None = None
    retained: bool | None = None


class Scores(BaseModel):
    model_config = ConfigDict(extra="ignore")

    nps: float | None = None
    csat: float | None = None
    satisfaction_index: float | None = None


class ResponseFacts(BaseModel):
    model_config = ConfigDict(extra="ignore")

    response_id: uuid.UUID
    survey_id: uuid.UUID | None = None
    survey_kind: str | None = None
    customer_id: uuid.UUID | None = None
    responded_at: datetime
    scores: Scores = Scores()
    # the reason codes chosen in the survey's reason question (an exit survey's), if it has one
    churn_reasons: list[str] = []


async def _complaint(session: Session, event: Event, **changes: Any) -> None:
    facts = ComplaintFacts.model_validate(event.data)
    row = await fact_repo.get_complaint(session, facts.id)
    if row is None:
        row = ComplaintFact(id=facts.id, customer_id=facts.customer_id, status="open", sla_breached=False)
        row.updated_at = event.occurred_at
        session.add(row)
    elif row.updated_at > event.occurred_at and "sla_breached" not in changes:
        return  # an older state than the one kept
    values = {k: v for k, v in facts.model_dump(exclude={"id"}).items() if v is not None}
    for name, value in {**values, **changes}.items():
        setattr(row, name, value)
    row.updated_at = max(row.updated_at, event.occurred_at)
    await score_service.request(session, facts.customer_id)


async def on_complaint_changed(session: Session, event: Event) -> None:
    await _complaint(session, event)


async def on_complaint_resolved(session: Session, event: Event) -> None:
    await _complaint(session, event, status="resolved")


async def on_sla_breached(session: Session, event: Event) -> None:
    await _complaint(session, event, sla_breached=True)


async def on_survey_responded(session: Session, event: Event) -> None:
    facts = ResponseFacts.model_validate(event.data)
    if facts.customer_id is None:  # mystery shopping: about the business, not a customer
        return
    if await fact_repo.get_response(session, facts.response_id) is not None:
        return
    session.add(
        SurveyResponseFact(
            id=facts.response_id,
            survey_id=facts.survey_id,
            survey_kind=facts.survey_kind,
            customer_id=facts.customer_id,
            responded_at=facts.responded_at,
            **facts.scores.model_dump(),
        )
    )
    await reason_service.record_exit_survey(
        session,
        customer_id=facts.customer_id,
        response_id=facts.response_id,
        codes=facts.churn_reasons,
        at=facts.responded_at,
    )
    await score_service.request(session, facts.customer_id)


class ServiceRecordFacts(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: uuid.UUID
    customer_id: uuid.UUID
    service_date: date
    type: str | None = None
    complaint_id: uuid.UUID | None = None


async def on_service_record(session: Session, event: Event) -> None:
    """A service record is a cost to serve (`cost_per_service_record`)."""
    facts = ServiceRecordFacts.model_validate(event.data)
    if await fact_repo.get_service_record(session, facts.id) is None:
        values = facts.model_dump()
        values["type"] = facts.type and facts.type[:32]
        session.add(ServiceRecordFact(**values))
        await score_service.request(session, facts.customer_id)


FEEDBACK_HANDLERS: Mapping[str, Handler] = {
    "service_record.recorded": on_service_record,
    "complaint.created": on_complaint_changed,
    "complaint.status_changed": on_complaint_changed,
    "complaint.resolved": on_complaint_resolved,
    "complaint.sla_breached": on_sla_breached,
    "complaint.followed_up": on_complaint_changed,
    "survey.responded": on_survey_responded,
}
