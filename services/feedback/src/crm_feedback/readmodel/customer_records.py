"""What `customer.erased`, `customer.merged` and `customer.unmerged` mean for the records feedback keeps
about a customer.

Erasure blanks the free text a customer or an agent wrote about them (descriptions, notes, replies,
text answers) and keeps the structure and numbers (categories, timestamps, scores), so that the
aggregates stay true. A merge moves every record of the duplicate to the survivor and remembers
which ones it moved; undoing the merge (`customer.unmerged`) moves exactly those back. The event's
own `moved` lists the customer service's records, not ours, so it cannot tell us.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from crm_feedback.complaints.models import Complaint, ComplaintHistory
from crm_feedback.readmodel.models import MergedRecord
from crm_feedback.service_records.models import ServiceRecord
from crm_feedback.suggestions.models import Suggestion
from crm_feedback.surveys.models import SurveyInvitation, SurveyResponse, SurveyVersion

ERASED = "[erased]"
# The records that follow a customer in a merge, by the kind they are remembered under.
_MOVABLE: dict[str, Any] = {
    "complaints": Complaint,
    "suggestions": Suggestion,
    "service_records": ServiceRecord,
    "survey_invitations": SurveyInvitation,
    "survey_responses": SurveyResponse,
}
# Records with a version (their ETag) get a new one when they change customer.
_VERSIONED = (Complaint, Suggestion, ServiceRecord)


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


def _moved_to(model: Any, customer_id: uuid.UUID) -> dict[str, Any]:
    values: dict[str, Any] = {"customer_id": customer_id}
    if model in _VERSIONED:
        values["version"] = model.version + 1
    return values


async def merge(session: AsyncSession, survivor_id: uuid.UUID, duplicate_id: uuid.UUID, merged_at: datetime) -> None:
    for kind, model in _MOVABLE.items():
        # The ids come from the update itself, so a record filed meanwhile is either moved and
        # remembered or neither.
        moved = (
            await session.scalars(
                update(model)
                .where(model.customer_id == duplicate_id)
                .values(_moved_to(model, survivor_id))
                .returning(model.id)
            )
        ).all()
        if moved:
            await session.execute(
                insert(MergedRecord),
                [
                    {
                        "survivor_id": survivor_id,
                        "duplicate_id": duplicate_id,
                        "kind": kind,
                        "record_id": record_id,
                        "merged_at": merged_at,
                    }
                    for record_id in moved
                ],
            )


async def unmerge(session: AsyncSession, survivor_id: uuid.UUID, duplicate_id: uuid.UUID) -> None:
    """Move back to the duplicate what merging it into the survivor moved, then forget the merge.

    Records filed on the survivor after the merge stay there, and so does a moved record that no
    longer sits on the survivor. With nothing remembered for the pair (an unknown merge, or one
    already undone) nothing changes.
    """
    remembered = (MergedRecord.survivor_id == survivor_id) & (MergedRecord.duplicate_id == duplicate_id)
    for kind, model in _MOVABLE.items():
        ids = select(MergedRecord.record_id).where(remembered, MergedRecord.kind == kind)
        await session.execute(
            update(model)
            .where(model.id.in_(ids), model.customer_id == survivor_id)
            .values(_moved_to(model, duplicate_id))
        )
    await session.execute(delete(MergedRecord).where(remembered))
