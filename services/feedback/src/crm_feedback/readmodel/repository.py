"""Every query on what feedback knows of customers (`customer_ref`) and on the records a merge moved.

A merge moves every record of the duplicate to the survivor and remembers which ones it moved
(`merged_record`); undoing it moves exactly those back. The moves are one statement per kind of
record, the same for every kind, so they are written here once over the kinds a merge remembers.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, insert, or_, select, true, update

from crm_chassis.identity import Principal, visible_owners
from crm_feedback.complaints.models import Complaint
from crm_feedback.db import Session
from crm_feedback.readmodel.models import CustomerRef, MergedRecord
from crm_feedback.service_records.models import ServiceRecord
from crm_feedback.suggestions.models import Suggestion
from crm_feedback.surveys.models import SurveyInvitation, SurveyResponse

Movable = type[Complaint] | type[Suggestion] | type[ServiceRecord] | type[SurveyInvitation] | type[SurveyResponse]
# The records that follow a customer in a merge, by the kind they are remembered under.
MOVABLE: dict[str, Movable] = {
    "complaints": Complaint,
    "suggestions": Suggestion,
    "service_records": ServiceRecord,
    "survey_invitations": SurveyInvitation,
    "survey_responses": SurveyResponse,
}
# Records with a version (their ETag) get a new one when they change customer.
_VERSIONED = (Complaint, Suggestion, ServiceRecord)


def visible_to(principal: Principal, customer_column: Any, creator_column: Any = None) -> ColumnElement[bool]:
    """Rows whose customer the caller may see. A row without a customer is seen by unrestricted
    callers and, when the kind has a `creator_column`, by those who may see its creator's work."""
    owners = visible_owners(principal)
    if owners is None:
        return true()
    visible: ColumnElement[bool] = customer_column.in_(select(CustomerRef.id).where(CustomerRef.owner_id.in_(owners)))
    if creator_column is not None:
        visible = or_(visible, and_(customer_column.is_(None), creator_column.in_(sorted(str(o) for o in owners))))
    return visible


async def owner_of(session: Session, customer_id: uuid.UUID) -> uuid.UUID | None:
    return await session.scalar(select(CustomerRef.owner_id).where(CustomerRef.id == customer_id))


async def get_for_update(session: Session, customer_id: uuid.UUID) -> CustomerRef | None:
    return await session.get(CustomerRef, customer_id, with_for_update=True)


async def merged_customers(session: Session, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, uuid.UUID]:
    """The survivor of each of `ids` that is merged away, with their `customer_ref` rows share-locked."""
    wanted = set(ids)
    if not wanted:
        return {}
    rows = await session.execute(
        select(CustomerRef.id, CustomerRef.merged_into)
        .where(CustomerRef.id.in_(wanted))
        .order_by(CustomerRef.id)
        .with_for_update(read=True)
    )
    return {customer_id: survivor for customer_id, survivor in rows.all() if survivor is not None}


async def active_customers(session: Session, ids: Iterable[uuid.UUID]) -> set[uuid.UUID]:
    """Those of `ids` known and neither deleted, erased nor merged away."""
    wanted = set(ids)
    if not wanted:
        return set()
    known = await session.scalars(
        select(CustomerRef.id).where(
            CustomerRef.id.in_(wanted),
            CustomerRef.deleted.is_(False),
            CustomerRef.erased.is_(False),
            CustomerRef.merged_into.is_(None),
        )
    )
    return set(known.all())


def _moved_to(model: Movable, customer_id: uuid.UUID) -> dict[str, Any]:
    values: dict[str, Any] = {"customer_id": customer_id}
    if issubclass(model, _VERSIONED):
        values["version"] = model.version + 1
    return values


async def move_records(
    session: Session, *, survivor_id: uuid.UUID, duplicate_id: uuid.UUID, merged_at: datetime
) -> None:
    """Move every record of the duplicate to the survivor, and remember which ones moved."""
    for kind, model in MOVABLE.items():
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


async def move_records_back(session: Session, *, survivor_id: uuid.UUID, duplicate_id: uuid.UUID) -> None:
    """Move back to the duplicate what merging it into the survivor moved, then forget the merge.

    Records filed on the survivor after the merge stay there, and so does a moved record that no
    longer sits on the survivor. With nothing remembered for the pair (an unknown merge, or one
    already undone) nothing changes.
    """
    remembered = (MergedRecord.survivor_id == survivor_id) & (MergedRecord.duplicate_id == duplicate_id)
    for kind, model in MOVABLE.items():
        ids = select(MergedRecord.record_id).where(remembered, MergedRecord.kind == kind)
        await session.execute(
            update(model)
            .where(model.id.in_(ids), model.customer_id == survivor_id)
            .values(_moved_to(model, duplicate_id))
        )
    await session.execute(delete(MergedRecord).where(remembered))
