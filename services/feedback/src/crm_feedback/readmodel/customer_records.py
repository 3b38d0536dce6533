"""What `customer.erased` and `customer.merged` mean for the records feedback keeps about a customer.

Erasure blanks the free text a customer or an agent wrote about them (descriptions, notes, replies,
text answers) and keeps the structure and numbers (categories, timestamps, scores), so that the
aggregates stay true. A merge moves every record of the duplicate to the survivor.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from crm_feedback.complaints.models import Complaint, ComplaintHistory
from crm_feedback.service_records.models import ServiceRecord
from crm_feedback.suggestions.models import Suggestion
from crm_feedback.surveys.models import SurveyInvitation, SurveyResponse, SurveyVersion

ERASED = "[erased]"
_MOVABLE: list[Any] = [Complaint, Suggestion, ServiceRecord]


async def _erase_text_answers(session: AsyncSession, customer_id: uuid.UUID) -> None:
    responses = (await session.scalars(select(SurveyResponse).where(SurveyResponse.customer_id == customer_id))).all()
    for response in responses:
        version = (
            await session.scalars(
                select(SurveyVersion).where(
                    SurveyVersion.survey_id == response.survey_id, SurveyVersion.number == response.survey_version
                )
            )
        ).one_or_none()
        text_keys = {q["key"] for q in (version.questions if version else []) if q["type"] == "text"}
        if text_keys & response.answers.keys():
            response.answers = {k: (ERASED if k in text_keys else v) for k, v in response.answers.items()}


async def erase(session: AsyncSession, customer_id: uuid.UUID) -> None:
    complaint_ids = select(Complaint.id).where(Complaint.customer_id == customer_id).scalar_subquery()
    await session.execute(
        update(Complaint)
        .where(Complaint.customer_id == customer_id)
        .values(description=ERASED, resolution=None, follow_up=None, version=Complaint.version + 1)
    )
    await session.execute(
        update(ComplaintHistory).where(ComplaintHistory.complaint_id.in_(complaint_ids)).values(note=None, changes=None)
    )
    await session.execute(
        update(Suggestion)
        .where(Suggestion.customer_id == customer_id)
        .values(text=ERASED, reply=None, version=Suggestion.version + 1)
    )
    await session.execute(
        update(ServiceRecord)
        .where(ServiceRecord.customer_id == customer_id)
        .values(description=None, outcome=None, version=ServiceRecord.version + 1)
    )
    await _erase_text_answers(session, customer_id)


async def merge(session: AsyncSession, survivor_id: uuid.UUID, duplicate_id: uuid.UUID) -> None:
    for model in _MOVABLE:
        await session.execute(
            update(model)
            .where(model.customer_id == duplicate_id)
            .values(customer_id=survivor_id, version=model.version + 1)
        )
    for model in (SurveyInvitation, SurveyResponse):
        await session.execute(update(model).where(model.customer_id == duplicate_id).values(customer_id=survivor_id))
