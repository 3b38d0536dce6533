"""Every query on campaigns, their members, responses and start jobs, and the report's reads."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Row, Select, func, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession

from crm_chassis.db import utcnow
from crm_chassis.identity import Principal, visible_owners
from crm_chassis.pagination import Page, paginate, paginate_rows
from crm_customer import job_rows
from crm_customer.campaigns.models import Campaign, CampaignMember, CampaignResponse, CampaignSnapshot
from crm_customer.campaigns.schemas import CampaignFilters, CampaignTarget
from crm_customer.customers import repository as customer_repo
from crm_customer.customers.models import Customer
from crm_customer.db import one_of
from crm_customer.orders import repository as order_repo
from crm_customer.orders.models import Order

ORDER = [(Campaign.created_at, True), (Campaign.id, True)]  # newest first
RESPONSE_ORDER = [(CampaignResponse.occurred_at, True), (CampaignResponse.id, True)]  # newest first
MEMBER_ORDER = [(CampaignMember.customer_id, False)]
UNFINISHED = job_rows.UNFINISHED


def live() -> ColumnElement[bool]:
    """Campaigns not deleted."""
    return Campaign.deleted_at.is_(None)


def visible(principal: Principal) -> ColumnElement[bool]:
    """Campaigns the caller may see: an agent their own, a manager their team's, others all."""
    owners = visible_owners(principal)
    return true() if owners is None else Campaign.owner_id.in_(owners)


async def get(
    session: AsyncSession, campaign_id: uuid.UUID, principal: Principal, *, for_update: bool = False
) -> Campaign | None:
    stmt = select(Campaign).where(Campaign.id == campaign_id, live(), visible(principal))
    if for_update:
        stmt = stmt.with_for_update()
    return await session.scalar(stmt.execution_options(populate_existing=True))


async def exists(session: AsyncSession, campaign_ids: Collection[uuid.UUID]) -> set[uuid.UUID]:
    """Those of the ids that name campaigns not deleted (whoever's they are)."""
    stmt = select(Campaign.id).where(one_of(Campaign.id, campaign_ids), live())
    return set((await session.scalars(stmt)).all())


async def list_page(
    session: AsyncSession, filters: CampaignFilters, limit: int, cursor: str | None, principal: Principal
) -> Page[Campaign]:
    stmt = select(Campaign).where(live(), visible(principal))
    for name in ("status", "channel", "owner_id"):
        value = getattr(filters, name)
        if value is not None:
            stmt = stmt.where(getattr(Campaign, name) == value)
    if filters.starts_after:
        stmt = stmt.where(Campaign.starts_on >= filters.starts_after)
    if filters.starts_before:
        stmt = stmt.where(Campaign.starts_on < filters.starts_before)
    if filters.created_after:
        stmt = stmt.where(Campaign.created_at >= filters.created_after)
    return await paginate(session, stmt, ORDER, "-created_at", limit, cursor)


def _target(session: AsyncSession, target: CampaignTarget, principal: Principal) -> Select[Any]:
    stmt = customer_repo.matching(session, target.customer_filters(), principal)
    if target.value_segment is not None:
        stmt = stmt.where(Customer.suggested_value_segment == target.value_segment)
    if target.abc_class is not None:
        stmt = stmt.where(Customer.suggested_abc_class == target.abc_class)
    if target.churn_risk_gte is not None:
        stmt = stmt.where(Customer.suggested_churn_risk >= target.churn_risk_gte)
    if target.churn_risk_lte is not None:
        stmt = stmt.where(Customer.suggested_churn_risk <= target.churn_risk_lte)
    return stmt


async def count_target(session: AsyncSession, target: CampaignTarget, principal: Principal) -> int:
    stmt = _target(session, target, principal).with_only_columns(func.count()).order_by(None)
    return int(await session.scalar(stmt) or 0)


async def target_after(
    session: AsyncSession, target: CampaignTarget, principal: Principal, after: uuid.UUID | None, limit: int
) -> list[tuple[uuid.UUID, bool]]:
    """The next `limit` customers of the target in id order, each with its marketing consent."""
    stmt = (
        _target(session, target, principal)
        .with_only_columns(Customer.id, Customer.marketing_consent)
        .order_by(Customer.id)
        .limit(limit)
    )
    if after is not None:
        stmt = stmt.where(Customer.id > after)
    return [(row.id, bool(row.marketing_consent)) for row in (await session.execute(stmt)).all()]


async def add_members(session: AsyncSession, campaign_id: uuid.UUID, customer_ids: Sequence[uuid.UUID]) -> int:
    """Members added among `customer_ids` (those already in, from an earlier try, stay as they are)."""
    if not customer_ids:
        return 0
    known = await session.scalars(
        select(CampaignMember.customer_id).where(
            CampaignMember.campaign_id == campaign_id, one_of(CampaignMember.customer_id, customer_ids)
        )
    )
    new = [c for c in customer_ids if c not in set(known.all())]
    now = utcnow()
    session.add_all(CampaignMember(campaign_id=campaign_id, customer_id=c, added_at=now) for c in new)
    await session.flush()
    return len(new)


async def member(session: AsyncSession, campaign_id: uuid.UUID, customer_id: uuid.UUID) -> CampaignMember | None:
    return await session.get(CampaignMember, (campaign_id, customer_id))


async def member_count(session: AsyncSession, campaign_id: uuid.UUID) -> int:
    stmt = select(func.count()).select_from(CampaignMember).where(CampaignMember.campaign_id == campaign_id)
    return int(await session.scalar(stmt) or 0)


async def members_page(
    session: AsyncSession, campaign_id: uuid.UUID, limit: int, cursor: str | None, principal: Principal
) -> Page[Row[Any]]:
    stmt = (
        select(CampaignMember.customer_id, Customer.name, CampaignMember.added_at, CampaignMember.last_response_at)
        .join(Customer, Customer.id == CampaignMember.customer_id)
        .where(CampaignMember.campaign_id == campaign_id, customer_repo.visible(principal))
    )
    return await paginate_rows(
        session, stmt, MEMBER_ORDER, "customer_id", limit, cursor, key=lambda row: [row.customer_id]
    )


async def set_counts(session: AsyncSession, campaign_id: uuid.UUID, members: int, excluded: int) -> None:
    """The start's counts on the campaign (no new version: they are facts of the job, not edits)."""
    await session.execute(
        update(Campaign)
        .where(Campaign.id == campaign_id)
        .values(member_count=members, excluded_without_consent=excluded)
        .execution_options(synchronize_session=False)
    )


async def add(session: AsyncSession, item: Campaign | CampaignResponse | CampaignSnapshot) -> None:
    session.add(item)
    await session.flush()


async def snapshot(session: AsyncSession, job_id: uuid.UUID) -> CampaignSnapshot | None:
    return await session.get(CampaignSnapshot, job_id, populate_existing=True)


async def latest_snapshot(session: AsyncSession, campaign_id: uuid.UUID) -> CampaignSnapshot | None:
    stmt = (
        select(CampaignSnapshot)
        .where(CampaignSnapshot.campaign_id == campaign_id)
        .order_by(CampaignSnapshot.created_at.desc(), CampaignSnapshot.id.desc())
        .limit(1)
    )
    return await session.scalar(stmt.execution_options(populate_existing=True))


async def set_snapshot_state(session: AsyncSession, job_id: uuid.UUID, **values: Any) -> None:
    await job_rows.set_state(session, CampaignSnapshot, job_id, **values)


async def fail_orphans(session: AsyncSession, silent_since: datetime, alive: set[uuid.UUID]) -> int:
    """Mark failed the unfinished starts no process has touched since `silent_since`."""
    message = "the service stopped while the members were taken; start the campaign again for the rest"
    return await job_rows.fail_orphans(session, CampaignSnapshot, silent_since, alive, message)


async def touch_member(session: AsyncSession, campaign_id: uuid.UUID, customer_id: uuid.UUID, at: datetime) -> None:
    """The member's last response is the latest one, whatever order responses arrive in."""
    await session.execute(
        update(CampaignMember)
        .where(
            CampaignMember.campaign_id == campaign_id,
            CampaignMember.customer_id == customer_id,
            (CampaignMember.last_response_at.is_(None)) | (CampaignMember.last_response_at < at),
        )
        .values(last_response_at=at)
        .execution_options(synchronize_session=False)
    )


async def responses_page(
    session: AsyncSession, campaign_id: uuid.UUID, limit: int, cursor: str | None, principal: Principal
) -> Page[CampaignResponse]:
    stmt = select(CampaignResponse).where(
        CampaignResponse.campaign_id == campaign_id, customer_repo.of_visible(principal, CampaignResponse.customer_id)
    )
    return await paginate(session, stmt, RESPONSE_ORDER, "-occurred_at", limit, cursor)


async def response(
    session: AsyncSession, campaign_id: uuid.UUID, response_id: uuid.UUID, principal: Principal
) -> CampaignResponse | None:
    stmt = select(CampaignResponse).where(
        CampaignResponse.id == response_id,
        CampaignResponse.campaign_id == campaign_id,
        customer_repo.of_visible(principal, CampaignResponse.customer_id),
    )
    return await session.scalar(stmt)


async def recorded_responses(
    session: AsyncSession, campaign_ids: Collection[uuid.UUID], customer_ids: Collection[uuid.UUID]
) -> list[tuple[uuid.UUID, uuid.UUID, str, datetime]]:
    """(campaign, customer, type, time) of the responses these campaigns hold from these customers."""
    stmt = select(
        CampaignResponse.campaign_id, CampaignResponse.customer_id, CampaignResponse.type, CampaignResponse.occurred_at
    ).where(one_of(CampaignResponse.campaign_id, campaign_ids), one_of(CampaignResponse.customer_id, customer_ids))
    return [(r[0], r[1], r[2], r[3]) for r in (await session.execute(stmt)).all()]


# The report's reads: plain rows, folded in report.py.


async def member_segments(session: AsyncSession, campaign_id: uuid.UUID) -> dict[uuid.UUID, str | None]:
    stmt = (
        select(CampaignMember.customer_id, Customer.suggested_value_segment)
        .join(Customer, Customer.id == CampaignMember.customer_id)
        .where(CampaignMember.campaign_id == campaign_id)
    )
    return {row.customer_id: row.suggested_value_segment for row in (await session.execute(stmt)).all()}


async def responses(session: AsyncSession, campaign_id: uuid.UUID) -> list[Any]:
    stmt = select(CampaignResponse.customer_id, CampaignResponse.type, CampaignResponse.occurred_at).where(
        CampaignResponse.campaign_id == campaign_id
    )
    return list((await session.execute(stmt)).all())


async def candidate_purchases(
    session: AsyncSession,
    campaign_id: uuid.UUID,
    currency: str,
    customers: Collection[uuid.UUID],
    since: datetime | None,
) -> list[Any]:
    """Live purchases in the campaign's currency that may be the campaign's: those that name it,
    and those of its responding members naming no campaign since their first response."""
    columns = (Order.id, Order.customer_id, Order.occurred_at, Order.amount, Order.margin, Order.campaign_id)
    purchase = (Order.refund_of.is_(None), Order.amount >= 0, order_repo.live(), Order.currency == currency)
    named = select(*columns).where(Order.campaign_id == campaign_id, *purchase)
    rows: list[Any] = list((await session.execute(named)).all())
    if customers and since is not None:
        unnamed = select(*columns).where(
            Order.campaign_id.is_(None), one_of(Order.customer_id, customers), Order.occurred_at >= since, *purchase
        )
        rows += (await session.execute(unnamed)).all()
    return rows


async def refunded(session: AsyncSession, order_ids: Collection[uuid.UUID]) -> dict[uuid.UUID | None, Any]:
    """What was refunded of each of these purchases (negative sums)."""
    if not order_ids:
        return {}
    stmt = (
        select(Order.refund_of, func.sum(Order.amount))
        .where(one_of(Order.refund_of, order_ids), order_repo.live())
        .group_by(Order.refund_of)
    )
    return {row[0]: row[1] for row in (await session.execute(stmt)).all()}


async def segments_of(session: AsyncSession, customer_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, str | None]:
    if not customer_ids:
        return {}
    stmt = select(Customer.id, Customer.suggested_value_segment).where(one_of(Customer.id, customer_ids))
    return {row.id: row.suggested_value_segment for row in (await session.execute(stmt)).all()}
