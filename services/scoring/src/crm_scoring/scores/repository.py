"""Queries on stored scores: single cards, lists and filters joined to the customer read model for
owners, the aggregates of the analytics, and forgetting a customer. Bulk writes are in
`bulk_repository`."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TypeAlias

from sqlalchemy import Row, Select, Table, delete, func, or_, select

from crm_chassis.pagination import Page, paginate_rows
from crm_scoring.db import Session
from crm_scoring.models import rfm
from crm_scoring.models.segments import SEGMENT_TABLE
from crm_scoring.readmodel.models import CustomerRef, InteractionFact
from crm_scoring.scores.models import customer_score, run_score

# a stored score's columns by name, with its customer's `owner_id` and `display_name`
ScoreRow: TypeAlias = Mapping[str, Any]
CHUNK = 2000  # ids per IN list
CustomerScore = customer_score.c
RunScore = run_score.c


def _base(table: Table = customer_score) -> Select[Any]:
    return select(
        table,
        CustomerRef.owner_id,
        CustomerRef.display_name,
        CustomerRef.influence_level,
        CustomerRef.industry_standing,
    ).join(CustomerRef, CustomerRef.id == table.c.customer_id)


async def get(session: Session, customer_id: uuid.UUID) -> ScoreRow | None:
    found = (await session.execute(_base().where(CustomerScore.customer_id == customer_id))).one_or_none()
    return None if found is None else found._mapping


async def get_of_run(session: Session, run_id: uuid.UUID, customer_id: uuid.UUID) -> ScoreRow | None:
    stmt = _base(run_score).where(RunScore.run_id == run_id, RunScore.customer_id == customer_id)
    found = (await session.execute(stmt)).one_or_none()
    return None if found is None else found._mapping


@dataclass(frozen=True)
class ScoreFilters:
    """A score list's filters, the same for the live cards and a backtest's results."""

    segment: str | None = None  # a value segment or an RFM segment
    abc_class: str | None = None
    churn_risk_gte: float | None = None
    care_status: str | None = None
    owner_id: uuid.UUID | None = None


async def list_page(
    session: Session,
    filters: ScoreFilters,
    *,
    run_id: uuid.UUID | None = None,
    visible_owners: frozenset[uuid.UUID] | None = None,
    limit: int,
    cursor: str | None,
) -> Page[ScoreRow]:
    """The live cards, or with `run_id` that backtest's results, filtered, in customer id order."""
    table = customer_score if run_id is None else run_score
    c = table.c
    stmt = _base(table)
    if run_id is not None:
        stmt = stmt.where(RunScore.run_id == run_id)
    if filters.segment in SEGMENT_TABLE:
        stmt = stmt.where(c.value_segment == filters.segment)
    elif filters.segment in rfm.SEGMENTS:
        stmt = stmt.where(c.rfm_segment == filters.segment)
    for column, wanted in ((c.abc_class, filters.abc_class), (c.care_status, filters.care_status)):
        if wanted is not None:
            stmt = stmt.where(column == wanted)
    if filters.churn_risk_gte is not None:
        stmt = stmt.where(c.churn_risk >= filters.churn_risk_gte)
    if filters.owner_id is not None:
        stmt = stmt.where(CustomerRef.owner_id == filters.owner_id)
    if visible_owners is not None:
        stmt = stmt.where(CustomerRef.owner_id.in_(visible_owners))
    order: list[tuple[Any, bool]] = [(c.customer_id, False)]
    page = await paginate_rows(session, stmt, order, "scores", limit, cursor, key=lambda row: [row.customer_id])
    return page.map(lambda row: row._mapping)


async def care_due(
    session: Session,
    *,
    owner_id: uuid.UUID | None,
    visible_owners: frozenset[uuid.UUID] | None,
    until: date,
    limit: int,
    cursor: str | None,
) -> Page[ScoreRow]:
    """Key customers due by `until`, soonest first, with what the caller needs to make contact:
    phone, preferred channel, best time and the summary of the last live contact."""
    last_summary = (
        select(InteractionFact.summary)
        .where(InteractionFact.customer_id == CustomerScore.customer_id, InteractionFact.deleted.is_(False))
        .order_by(InteractionFact.occurred_at.desc(), InteractionFact.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    stmt = (
        _base()
        .add_columns(
            CustomerRef.phone,
            CustomerRef.preferred_channel,
            CustomerRef.best_contact_time,
            last_summary.label("last_contact_summary"),
        )
        .where(CustomerScore.care_status.is_not(None), CustomerScore.care_due_date <= until)
    )
    if owner_id is not None:
        stmt = stmt.where(CustomerRef.owner_id == owner_id)
    if visible_owners is not None:
        stmt = stmt.where(CustomerRef.owner_id.in_(visible_owners))
    order: list[tuple[Any, bool]] = [(CustomerScore.care_due_date, False), (CustomerScore.customer_id, False)]
    page = await paginate_rows(
        session, stmt, order, "care", limit, cursor, key=lambda row: [row.care_due_date, row.customer_id]
    )
    return page.map(lambda row: row._mapping)


async def delete_score(session: Session, customer_id: uuid.UUID) -> None:
    await session.execute(delete(customer_score).where(CustomerScore.customer_id == customer_id))


# --- aggregates for the analytics -------------------------------------------------------------


async def rescored_since(session: Session, *, run_id: uuid.UUID, since: datetime) -> Sequence[uuid.UUID]:
    """Customers whose card someone other than `run_id` scored from facts newer than `since`."""
    stmt = select(CustomerScore.customer_id).where(
        CustomerScore.scored_at > since, or_(CustomerScore.run_id.is_(None), CustomerScore.run_id != run_id)
    )
    return (await session.scalars(stmt)).all()


async def churn_of(session: Session, ids: Sequence[uuid.UUID]) -> list[Mapping[str, Any]]:
    """What the churn analysis reads of those of `ids` that have a score, in customer id order."""
    rows: list[Mapping[str, Any]] = []
    columns = (
        CustomerScore.customer_id,
        CustomerScore.churn_reasons,
        CustomerScore.clv_before_loss,
        CustomerScore.yearly_profit,
        CustomerScore.value_segment,
        CustomerScore.lifecycle_suggestion,
        CustomerRef.display_name,
    )
    for chunk in range(0, len(ids), CHUNK):
        stmt = (
            select(*columns)
            .join(CustomerRef, CustomerRef.id == CustomerScore.customer_id)
            .where(CustomerScore.customer_id.in_(ids[chunk : chunk + CHUNK]))
        )
        rows.extend(dict(row._mapping) for row in await session.execute(stmt))
    return sorted(rows, key=lambda row: row["customer_id"])


async def lifecycle_counts(session: Session) -> dict[str | None, int]:
    stmt = select(CustomerScore.lifecycle_suggestion, func.count()).group_by(CustomerScore.lifecycle_suggestion)
    return {suggestion: n for suggestion, n in await session.execute(stmt)}


async def value_segment_totals(session: Session) -> Sequence[Row[str | None, int, Decimal | None, Any]]:
    """Per value segment: customers, summed probabilistic CLV and mean churn risk."""
    stmt = select(
        CustomerScore.value_segment,
        func.count(),
        func.sum(CustomerScore.clv_probabilistic),
        func.avg(CustomerScore.churn_risk),
    ).group_by(CustomerScore.value_segment)
    return (await session.execute(stmt)).all()


async def rfm_segment_counts(session: Session) -> Sequence[Row[str | None, int]]:
    stmt = select(CustomerScore.rfm_segment, func.count()).group_by(CustomerScore.rfm_segment)
    return (await session.execute(stmt)).all()


async def abc_values(session: Session) -> Sequence[float]:
    return (await session.scalars(select(CustomerScore.abc_value))).all()


async def abc_class_totals(session: Session) -> Sequence[Row[str, int, float | None]]:
    """Per ABC class: customers and summed value."""
    stmt = select(CustomerScore.abc_class, func.count(), func.sum(CustomerScore.abc_value)).group_by(
        CustomerScore.abc_class
    )
    return (await session.execute(stmt)).all()
