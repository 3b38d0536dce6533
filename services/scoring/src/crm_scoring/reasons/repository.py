"""Every query on churn reasons."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Uuid, delete, func, insert, literal, select, update

from crm_chassis.pagination import Page, paginate
from crm_scoring.db import Session
from crm_scoring.reasons.models import ChurnReason, MergeMove


def add(session: Session, reason: ChurnReason) -> None:
    session.add(reason)


async def has_response(session: Session, response_id: uuid.UUID) -> bool:
    found = await session.scalar(select(ChurnReason.id).where(ChurnReason.response_id == response_id).limit(1))
    return found is not None


async def list_page(session: Session, customer_id: uuid.UUID, *, limit: int, cursor: str | None) -> Page[ChurnReason]:
    stmt = select(ChurnReason).where(ChurnReason.customer_id == customer_id)
    order = [(ChurnReason.recorded_at, True), (ChurnReason.id, True)]
    return await paginate(session, stmt, order, "churn_reasons", limit, cursor)


async def counts(session: Session, *, start: datetime, end: datetime) -> list[tuple[str, str, int]]:
    """(code, source, reasons) of the reasons recorded in [start, end)."""
    stmt = (
        select(ChurnReason.code, ChurnReason.source, func.count())
        .where(ChurnReason.recorded_at >= start, ChurnReason.recorded_at < end)
        .group_by(ChurnReason.code, ChurnReason.source)
    )
    return [(code, source, int(n)) for code, source, n in await session.execute(stmt)]


async def erase_notes(session: Session, customer_id: uuid.UUID) -> None:
    await session.execute(update(ChurnReason).where(ChurnReason.customer_id == customer_id).values(note=None))


async def move_to_survivor(session: Session, *, duplicate_id: uuid.UUID, survivor_id: uuid.UUID) -> None:
    await log_moves(session, ChurnReason, "churn_reason", duplicate_id=duplicate_id, survivor_id=survivor_id)
    await session.execute(
        update(ChurnReason).where(ChurnReason.customer_id == duplicate_id).values(customer_id=survivor_id)
    )


async def move_back(session: Session, *, duplicate_id: uuid.UUID, survivor_id: uuid.UUID) -> None:
    moved = moved_by_merge(ChurnReason, "churn_reason", duplicate_id=duplicate_id, survivor_id=survivor_id)
    await session.execute(update(ChurnReason).where(moved).values(customer_id=duplicate_id))


async def log_moves(
    session: Session, model: Any, kind: str, *, duplicate_id: uuid.UUID, survivor_id: uuid.UUID
) -> None:
    """Note the duplicate's `model` records (`kind`) a merge is about to give to the survivor."""
    ids = select(literal(duplicate_id, Uuid), literal(survivor_id, Uuid), literal(kind), model.id).where(
        model.customer_id == duplicate_id
    )
    columns = ["duplicate_id", "survivor_id", "kind", "record_id"]
    await session.execute(insert(MergeMove).from_select(columns, ids))


def moved_by_merge(model: Any, kind: str, *, duplicate_id: uuid.UUID, survivor_id: uuid.UUID) -> Any:
    """The `model` records that merge moved and the survivor still holds."""
    logged = select(MergeMove.record_id).where(
        MergeMove.duplicate_id == duplicate_id, MergeMove.survivor_id == survivor_id, MergeMove.kind == kind
    )
    return (model.id.in_(logged)) & (model.customer_id == survivor_id)


async def forget_moves(session: Session, *, duplicate_id: uuid.UUID, survivor_id: uuid.UUID) -> None:
    """The undo is done: its log goes (a later merge of the two logs afresh)."""
    await session.execute(
        delete(MergeMove).where(MergeMove.duplicate_id == duplicate_id, MergeMove.survivor_id == survivor_id)
    )
