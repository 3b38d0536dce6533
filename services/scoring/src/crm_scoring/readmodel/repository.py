"""Every query on scoring's copy of the facts (customers, orders, contacts, complaints, answers) and
on the re-scoring queue, but the population's statistics (`stats_repository`)."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import cast

from sqlalchemy import ColumnElement, Row, Select, Table, and_, case, delete, func, or_, select, update

from crm_chassis.db import upsert
from crm_scoring.db import Session
from crm_scoring.readmodel.models import (
    CampaignResponseFact,
    ComplaintFact,
    ConcessionFact,
    ContactFact,
    CustomerRef,
    InteractionFact,
    OrderFact,
    RescoreRequest,
    ServiceRecordFact,
    SurveyResponseFact,
)
from crm_scoring.scores.models import customer_score

Fact = (
    type[OrderFact]
    | type[InteractionFact]
    | type[ComplaintFact]
    | type[SurveyResponseFact]
    | type[ConcessionFact]
    | type[ServiceRecordFact]
    | type[CampaignResponseFact]
)
FACT_TABLES: tuple[Fact, ...] = (
    OrderFact,
    InteractionFact,
    ComplaintFact,
    SurveyResponseFact,
    ConcessionFact,
    ServiceRecordFact,
    CampaignResponseFact,
)
# the kinds of contacts a `customer.unmerged` event lists: held as organisation, or as the person
CONTACT_UNMERGE_KINDS = ("contacts_held", "contacts_as_person")
# the kinds a `customer.unmerged` event lists its moved record ids under
UNMERGE_KINDS: dict[str, Fact] = {
    "orders": OrderFact,
    "interactions": InteractionFact,
    "complaints": ComplaintFact,
    "survey_responses": SurveyResponseFact,
    "concessions": ConcessionFact,
    "service_records": ServiceRecordFact,
    # not listed by `customer.unmerged` today: a merge moves responses to the survivor for good
    "campaign_responses": CampaignResponseFact,
}


def counted_purchase() -> ColumnElement[bool]:
    """An order that counts as a purchase: not a refund, and not refunded in full. A zero-value
    purchase (a free item, a full discount) counts: it is a visit, though it adds no spend."""
    return and_(
        OrderFact.refund_of.is_(None),
        OrderFact.deleted.is_(False),
        or_(OrderFact.net_amount > 0, OrderFact.amount == 0),
    )


async def get_customer(session: Session, customer_id: uuid.UUID, *, for_update: bool = False) -> CustomerRef | None:
    return await session.get(CustomerRef, customer_id, with_for_update=for_update)


async def get_order(session: Session, order_id: uuid.UUID, *, for_update: bool = False) -> OrderFact | None:
    return await session.get(OrderFact, order_id, with_for_update=for_update)


async def refunded(session: Session, order_id: uuid.UUID) -> Decimal:
    """The summed amounts of the live refunds of an order (0 without any)."""
    total = await session.scalar(
        select(func.sum(OrderFact.amount)).where(OrderFact.refund_of == order_id, OrderFact.deleted.is_(False))
    )
    return Decimal(total or 0)


async def stored_orders(session: Session, ids: Collection[uuid.UUID]) -> set[uuid.UUID]:
    """Which of these order ids are stored."""
    return set((await session.scalars(select(OrderFact.id).where(OrderFact.id.in_(list(ids))))).all())


async def orders_with_refunds(session: Session, ids: Collection[uuid.UUID]) -> set[uuid.UUID]:
    """Which of these orders have a refund stored, live or deleted."""
    stmt = select(OrderFact.refund_of).where(OrderFact.refund_of.in_(list(ids))).distinct()
    return {i for i in (await session.scalars(stmt)).all() if i is not None}


async def get_interaction(
    session: Session, interaction_id: uuid.UUID, *, for_update: bool = False
) -> InteractionFact | None:
    return await session.get(InteractionFact, interaction_id, with_for_update=for_update)


async def get_complaint(session: Session, complaint_id: uuid.UUID) -> ComplaintFact | None:
    return await session.get(ComplaintFact, complaint_id)


async def get_response(session: Session, response_id: uuid.UUID) -> SurveyResponseFact | None:
    return await session.get(SurveyResponseFact, response_id)


async def get_concession(session: Session, concession_id: uuid.UUID) -> ConcessionFact | None:
    return await session.get(ConcessionFact, concession_id)


async def get_service_record(session: Session, record_id: uuid.UUID) -> ServiceRecordFact | None:
    return await session.get(ServiceRecordFact, record_id)


async def get_campaign_response(session: Session, response_id: uuid.UUID) -> CampaignResponseFact | None:
    return await session.get(CampaignResponseFact, response_id)


async def get_contact(session: Session, contact_id: uuid.UUID, *, for_update: bool = False) -> ContactFact | None:
    return await session.get(ContactFact, contact_id, with_for_update=for_update)


def _key_organizations(person_ids: Sequence[uuid.UUID] | None) -> Select[uuid.UUID | None, uuid.UUID, str]:
    """(person, organisation, its name) for each live organisation whose own card makes it a key
    customer and that has the person as a senior leader."""
    org = customer_score.c
    stmt: Select[uuid.UUID | None, uuid.UUID, str] = (
        select(ContactFact.customer_id, ContactFact.organization_id, CustomerRef.display_name)
        .join(customer_score, org.customer_id == ContactFact.organization_id)
        .join(CustomerRef, CustomerRef.id == ContactFact.organization_id)
        .where(
            ContactFact.senior_leader.is_(True),
            ContactFact.removed.is_(False),
            ContactFact.customer_id.is_not(None),
            org.key_customer_kind.is_not(None),
            CustomerRef.deleted.is_(False),
            CustomerRef.erased.is_(False),
            CustomerRef.merged_into.is_(None),
        )
        .order_by(ContactFact.customer_id, CustomerRef.display_name, ContactFact.organization_id)
    )
    return stmt if person_ids is None else stmt.where(ContactFact.customer_id.in_(person_ids))


async def key_organizations(
    session: Session, person_ids: Sequence[uuid.UUID] | None = None
) -> dict[uuid.UUID, list[tuple[uuid.UUID, str]]]:
    """Per person (of `person_ids`, or everyone): the key organisations they are a senior leader
    of, by name, as (id, name)."""
    found: dict[uuid.UUID, list[tuple[uuid.UUID, str]]] = {}
    chunks = (
        [None] if person_ids is None else [person_ids[i : i + IN_CHUNK] for i in range(0, len(person_ids), IN_CHUNK)]
    )
    for chunk in chunks:
        for person, org_id, name in await session.execute(_key_organizations(chunk)):
            if person is not None:  # never: the query asks for contacts who are customers
                found.setdefault(person, []).append((org_id, name))
    return found


async def leaders_out_of_step(
    session: Session, organization_ids: Sequence[uuid.UUID] | None = None
) -> Sequence[uuid.UUID]:
    """Senior leaders (of `organization_ids`, or of any organisation) whose card disagrees with
    their organisations' cards: a leader of a key organisation who is no key customer, or one
    `via_organization` none of whose organisations is key any more. They are re-scored after their
    organisations' cards are written."""
    person = customer_score.alias("person_score")
    leaders = select(ContactFact.customer_id).where(ContactFact.customer_id.is_not(None))
    if organization_ids is not None:
        leaders = leaders.where(ContactFact.organization_id.in_(organization_ids))
    leaders_of_key = _key_organizations(None).with_only_columns(ContactFact.customer_id).order_by(None)
    missing = (
        select(ContactFact.customer_id)
        .outerjoin(person, person.c.customer_id == ContactFact.customer_id)
        .where(
            ContactFact.customer_id.in_(leaders),
            ContactFact.customer_id.in_(leaders_of_key),
            person.c.key_customer_kind.is_(None),
        )
    )
    stale = select(person.c.customer_id).where(
        person.c.key_customer_kind == "via_organization",
        person.c.customer_id.in_(leaders),
        person.c.customer_id.not_in(leaders_of_key),
    )
    found = set((await session.scalars(missing)).all()) | set((await session.scalars(stale)).all())
    return sorted(cid for cid in found if cid is not None)


async def blank_summaries(session: Session, customer_id: uuid.UUID) -> None:
    """An erased customer's contacts keep when and how they were, not what was said."""
    await session.execute(
        update(InteractionFact).where(InteractionFact.customer_id == customer_id).values(summary=None)
    )


async def move_facts(session: Session, *, duplicate_id: uuid.UUID, survivor_id: uuid.UUID) -> None:
    """Give the duplicate's facts, and the customers it referred, to the survivor."""
    for model in FACT_TABLES:
        await session.execute(update(model).where(model.customer_id == duplicate_id).values(customer_id=survivor_id))
    for column in (ContactFact.customer_id, ContactFact.organization_id):
        await session.execute(update(ContactFact).where(column == duplicate_id).values({column: survivor_id}))
    await session.execute(
        update(CustomerRef).where(CustomerRef.referred_by == duplicate_id).values(referred_by=survivor_id)
    )


async def move_facts_back(
    session: Session, moved: Mapping[str, Sequence[uuid.UUID]], *, duplicate_id: uuid.UUID
) -> set[uuid.UUID]:
    """Give the duplicate back the facts listed under `UNMERGE_KINDS` in `moved`. Returns the
    customers who held them: the survivor, or whoever it was merged into since."""
    holders: set[uuid.UUID] = set()
    for kind, model in UNMERGE_KINDS.items():
        ids = moved.get(kind) or []
        if ids:
            holding = select(model.customer_id).where(model.id.in_(ids)).distinct()
            holders.update((await session.scalars(holding)).all())
            await session.execute(update(model).where(model.id.in_(ids)).values(customer_id=duplicate_id))
    held, as_person = CONTACT_UNMERGE_KINDS
    for kind, column in ((held, ContactFact.organization_id), (as_person, ContactFact.customer_id)):
        if ids := moved.get(kind) or []:
            await session.execute(update(ContactFact).where(ContactFact.id.in_(ids)).values({column: duplicate_id}))
    return holders


async def last_purchases(
    session: Session, *, earliest: datetime, start: datetime, end: datetime
) -> Sequence[Row[uuid.UUID, datetime | None, datetime]]:
    """Per live customer who bought in (earliest, end]: their last purchase up to `start` and up to `end`."""
    stmt: Select[uuid.UUID, datetime | None, datetime] = (
        select(
            OrderFact.customer_id,
            func.max(case((OrderFact.occurred_at <= start, OrderFact.occurred_at))),
            func.max(OrderFact.occurred_at),
        )
        .join(CustomerRef, CustomerRef.id == OrderFact.customer_id)
        .where(
            counted_purchase(),
            OrderFact.occurred_at > earliest,
            OrderFact.occurred_at <= end,
            CustomerRef.deleted.is_(False),
            CustomerRef.merged_into.is_(None),
        )
        .group_by(OrderFact.customer_id)
    )
    return (await session.execute(stmt)).all()


# --- the re-scoring queue ---------------------------------------------------------------------


IN_CHUNK = 1_000  # ids per `IN (...)`: well under SQLite's bound-parameter limit


async def request_rescore(session: Session, customer_id: uuid.UUID, *, at: datetime) -> None:
    """Queue a customer for re-scoring; repeated requests collapse into one, and a renewal clears
    the claim of whoever is scoring the customer now, so that it stays queued after them."""
    stmt = upsert(session, cast(Table, RescoreRequest.__table__)).values(
        customer_id=customer_id, requested_at=at, claimed_by=None
    )
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=["customer_id"], set_={"requested_at": stmt.excluded.requested_at, "claimed_by": None}
        )
    )


async def claim_rescores(session: Session, claim: uuid.UUID, limit: int | None = None) -> Sequence[uuid.UUID]:
    """Mark the oldest `limit` requests (all without a limit) as taken by `claim`, before the facts
    are loaded: a request seen here was committed with its facts, so the load sees them."""
    stmt = select(RescoreRequest.customer_id).order_by(RescoreRequest.requested_at)
    ids = list((await session.scalars(stmt if limit is None else stmt.limit(limit))).all())
    if limit is None:
        await session.execute(update(RescoreRequest).values(claimed_by=claim))
        return ids
    for first in range(0, len(ids), IN_CHUNK):
        part = ids[first : first + IN_CHUNK]
        await session.execute(
            update(RescoreRequest).where(RescoreRequest.customer_id.in_(part)).values(claimed_by=claim)
        )
    return ids


async def release_rescores(session: Session, claim: uuid.UUID, customer_id: uuid.UUID | None = None) -> None:
    """Drop the requests `claim` took (or just the customer's) that no one renewed since."""
    stmt = delete(RescoreRequest).where(RescoreRequest.claimed_by == claim)
    if customer_id is not None:
        stmt = stmt.where(RescoreRequest.customer_id == customer_id)
    await session.execute(stmt)


async def drop_rescore(session: Session, customer_id: uuid.UUID) -> None:
    await session.execute(delete(RescoreRequest).where(RescoreRequest.customer_id == customer_id))
