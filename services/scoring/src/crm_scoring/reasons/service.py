"""Churn reasons (step 2 of churned-customer management): recorded by an account manager, or
answered in an exit survey (`survey.responded` carrying `churn_reasons`)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from crm_chassis.db import utcnow
from crm_chassis.errors import NotFound
from crm_chassis.identity import Principal
from crm_chassis.pagination import Page
from crm_scoring.access import own_customers_only
from crm_scoring.db import Session
from crm_scoring.readmodel import repository as fact_repo
from crm_scoring.reasons import repository as reason_repo
from crm_scoring.reasons.models import ChurnReason
from crm_scoring.reasons.schemas import REASON_CODES, ChurnReasonCreate
from crm_scoring.retention import repository as action_repo


async def visible_customer(session: Session, principal: Principal, customer_id: uuid.UUID) -> None:
    """404 unless the customer is known, live, and the caller's to see."""
    ref = await fact_repo.get_customer(session, customer_id)
    only = own_customers_only(principal)
    if (
        ref is None
        or ref.deleted
        or ref.erased
        or ref.merged_into is not None
        or (only is not None and ref.owner_id not in only)
    ):
        raise NotFound(f"customer {customer_id} does not exist", code="customer_not_found")


async def record(session: Session, *, customer_id: uuid.UUID, data: ChurnReasonCreate, actor: str) -> ChurnReason:
    reason = ChurnReason(
        id=uuid.uuid4(),
        customer_id=customer_id,
        code=data.code,
        source="manual",
        note=data.note,
        recorded_at=utcnow(),
        recorded_by=actor,
    )
    reason_repo.add(session, reason)
    await session.flush()
    return reason


async def list_page(session: Session, customer_id: uuid.UUID, *, limit: int, cursor: str | None) -> Page[ChurnReason]:
    return await reason_repo.list_page(session, customer_id, limit=limit, cursor=cursor)


async def record_exit_survey(
    session: Session, *, customer_id: uuid.UUID, response_id: uuid.UUID, codes: Sequence[str], at: datetime
) -> None:
    """The reasons an exit-survey response chose, once per response (a replay adds nothing). A code
    this service does not know is kept as `other`, with the code in the note."""
    if not codes or await reason_repo.has_response(session, response_id):
        return
    kept: dict[str, str | None] = {}
    for code in codes:
        if code in REASON_CODES:
            kept.setdefault(code, None)
        else:
            kept["other"] = f"exit survey reason {code[:100]}"
    for code, note in kept.items():
        reason_repo.add(
            session,
            ChurnReason(
                id=uuid.uuid4(),
                customer_id=customer_id,
                code=code,
                source="exit_survey",
                note=note,
                response_id=response_id,
                recorded_at=at,
                recorded_by=None,
            ),
        )


async def forget_personal(session: Session, customer_id: uuid.UUID) -> None:
    """`customer.erased`: the notes of the customer's reasons and retention actions are free text."""
    await reason_repo.erase_notes(session, customer_id)
    await action_repo.erase_notes(session, customer_id)


async def merge(session: Session, *, duplicate_id: uuid.UUID, survivor_id: uuid.UUID) -> None:
    """`customer.merged`: the duplicate's reasons and retention actions become the survivor's."""
    await reason_repo.move_to_survivor(session, duplicate_id=duplicate_id, survivor_id=survivor_id)
    await action_repo.move_to_survivor(session, duplicate_id=duplicate_id, survivor_id=survivor_id)


async def unmerge(session: Session, *, duplicate_id: uuid.UUID, survivor_id: uuid.UUID) -> None:
    """`customer.unmerged`: the reasons and actions that merge moved go back to the duplicate."""
    await reason_repo.move_back(session, duplicate_id=duplicate_id, survivor_id=survivor_id)
    await action_repo.move_back(session, duplicate_id=duplicate_id, survivor_id=survivor_id)
    await reason_repo.forget_moves(session, duplicate_id=duplicate_id, survivor_id=survivor_id)
