"""Points and concessions: rewards that are audited, and never a reward for threatening to leave."""

from __future__ import annotations

import uuid

from crm_chassis.db import utcnow
from crm_chassis.errors import Conflict, Unprocessable
from crm_chassis.identity import Principal
from crm_chassis.pagination import Page
from crm_customer import events
from crm_customer.customers import repository as customer_repo
from crm_customer.customers.models import Customer
from crm_customer.db import Session
from crm_customer.loyalty import repository as loyalty_repo
from crm_customer.loyalty.models import Concession, PointsEntry
from crm_customer.loyalty.schemas import ConcessionCreate, ConcessionReason, PointsCreate
from crm_customer.users import service as user_service


async def balance(session: Session, customer_id: uuid.UUID) -> int:
    return await loyalty_repo.balance(session, customer_id)


async def post_points(session: Session, *, customer: Customer, data: PointsCreate, principal: Principal) -> PointsEntry:
    """Add a ledger entry; 409 and nothing written if it would take the balance below zero."""
    # Lock the customer row: concurrent redeems queue here, so two cannot both spend the same points.
    await customer_repo.lock(session, [customer.id])
    current = await balance(session, customer.id)
    after = current + data.delta
    if after < 0:
        raise Conflict(
            f"the balance is {current} points; this {data.kind} needs {-data.delta}",
            code="insufficient_points",
            balance=current,
        )
    entry = PointsEntry(
        id=uuid.uuid4(),
        customer_id=customer.id,
        kind=data.kind,
        points=data.delta,
        balance_after=after,
        reason=data.reason,
        created_by=principal.subject,
        created_at=utcnow(),
    )
    session.add(entry)
    await session.flush()
    payload = {"id": str(entry.id), "customer_id": str(customer.id), "kind": entry.kind, "points": entry.points}
    await events.publish(session, events.POINTS_CHANGED, customer.id, {**payload, "balance": after}, 1)
    return entry


async def ledger_page(session: Session, *, customer_id: uuid.UUID, limit: int, cursor: str | None) -> Page[PointsEntry]:
    return await loyalty_repo.ledger_page(session, customer_id, limit, cursor)


async def grant_concession(
    session: Session, *, customer: Customer, data: ConcessionCreate, principal: Principal
) -> Concession:
    if data.reason == ConcessionReason.threatened_to_leave and data.reciprocal is None:
        # Never reward disloyalty: a concession to a customer who threatens to leave must buy something back.
        raise Unprocessable.field(
            "reciprocal",
            "reciprocal_required",
            "a concession to a customer who threatened to leave must record what the customer gives in return",
        )
    await user_service.check_approver(session, principal, data.approver_id)
    concession = Concession(
        id=uuid.uuid4(),
        customer_id=customer.id,
        granted_by=principal.subject,
        granted_at=utcnow(),
        **data.model_dump(mode="python"),
    )
    session.add(concession)
    await session.flush()
    payload = {
        "id": str(concession.id),
        "customer_id": str(customer.id),
        "kind": concession.kind,
        "reason": concession.reason,
        "value": None if concession.value is None else str(concession.value),
        "currency": concession.currency,
    }
    await events.publish(session, events.CONCESSION_GRANTED, concession.id, payload, 1)
    return concession


async def concessions_page(
    session: Session, *, customer_id: uuid.UUID, limit: int, cursor: str | None
) -> Page[Concession]:
    return await loyalty_repo.concessions_page(session, customer_id, limit, cursor)
