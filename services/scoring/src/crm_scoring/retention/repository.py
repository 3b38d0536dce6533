"""Every query on retention actions: opening them from a scoring, the work lists, closing them."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, Table, func, select, update
from sqlalchemy.orm import aliased

from crm_chassis.db import upsert
from crm_chassis.pagination import Page, paginate_rows
from crm_scoring.db import Session
from crm_scoring.readmodel.models import CustomerRef
from crm_scoring.reasons import repository as reason_repo
from crm_scoring.retention.models import CLOSED, OPEN, OPEN_ONLY, RetentionAction

# an action with its customer's current owner and name
ActionRow = tuple[RetentionAction, uuid.UUID | None, str | None]
CHUNK = 1000


async def open_actions(session: Session, actions: Sequence[Mapping[str, Any]], *, at: datetime, due_date: date) -> None:
    """Open an action for each of these customers who has no open one (the row path of a scoring)."""
    rows = [
        {**action, "id": uuid.uuid4(), "status": OPEN, "created_at": at, "due_date": due_date, "version": 1}
        for action in actions
    ]
    table = RetentionAction.__table__
    assert isinstance(table, Table)
    for start in range(0, len(rows), CHUNK):
        stmt = upsert(session, table).on_conflict_do_nothing(index_elements=["customer_id"], index_where=OPEN_ONLY)
        await session.execute(stmt, rows[start : start + CHUNK])


def _with_owner() -> Select[RetentionAction, uuid.UUID | None, str]:
    """Actions of live customers (not deleted, not merged away), with their owner and name."""
    return (
        select(RetentionAction, CustomerRef.owner_id, CustomerRef.display_name)
        .join(CustomerRef, CustomerRef.id == RetentionAction.customer_id)
        .where(CustomerRef.deleted.is_(False), CustomerRef.merged_into.is_(None))
    )


async def get(session: Session, action_id: uuid.UUID, *, for_update: bool = False) -> ActionRow | None:
    stmt = _with_owner().where(RetentionAction.id == action_id)
    if for_update:
        stmt = stmt.with_for_update(of=RetentionAction)
    found = (await session.execute(stmt)).one_or_none()
    return None if found is None else (found[0], found[1], found[2])


async def list_page(
    session: Session,
    *,
    owner_id: uuid.UUID | None,
    customer_id: uuid.UUID | None,
    status: str | None,
    outcome: str | None,
    countermeasure: str | None,
    visible_owners: frozenset[uuid.UUID] | None,
    limit: int,
    cursor: str | None,
) -> Page[ActionRow]:
    """The actions in due-date order (the most urgent first), filtered."""
    stmt = _with_owner()
    if owner_id is not None:
        stmt = stmt.where(CustomerRef.owner_id == owner_id)
    if visible_owners is not None:
        stmt = stmt.where(CustomerRef.owner_id.in_(visible_owners))
    for column, wanted in (
        (RetentionAction.customer_id, customer_id),
        (RetentionAction.status, status),
        (RetentionAction.outcome, outcome),
        (RetentionAction.countermeasure, countermeasure),
    ):
        if wanted is not None:
            stmt = stmt.where(column == wanted)
    order: list[tuple[Any, bool]] = [(RetentionAction.due_date, False), (RetentionAction.id, False)]
    page = await paginate_rows(
        session, stmt, order, "retention_actions", limit, cursor, key=lambda row: [row[0].due_date, row[0].id]
    )
    return page.map(lambda row: (row[0], row[1], row[2]))


async def close_won_back(session: Session, customer_id: uuid.UUID, *, at: datetime, by: str, note: str) -> int:
    """Close the customer's open win-back action of a lost customer, opened before `at`, as won back."""
    result = await session.execute(
        update(RetentionAction)
        .where(
            RetentionAction.customer_id == customer_id,
            RetentionAction.status == OPEN,
            RetentionAction.countermeasure == "win_back",
            RetentionAction.suggestion == "lost",
            RetentionAction.created_at <= at,
        )
        .values(
            status=CLOSED,
            outcome="won_back",
            closed_at=at,
            closed_by=by,
            note=func.coalesce(RetentionAction.note, note),
            version=RetentionAction.version + 1,
        )
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def winning_back(session: Session, customer_ids: Collection[uuid.UUID]) -> set[uuid.UUID]:
    """Which of these customers have an open win-back action of a lost customer (the ones a
    purchase can close: `close_won_back`)."""
    stmt = select(RetentionAction.customer_id).where(
        RetentionAction.customer_id.in_(list(customer_ids)),
        RetentionAction.status == OPEN,
        RetentionAction.countermeasure == "win_back",
        RetentionAction.suggestion == "lost",
    )
    return set((await session.scalars(stmt)).all())


async def closed_counts(
    session: Session, *, start: datetime, end: datetime
) -> list[tuple[str | None, str, str | None, int]]:
    """(value segment, countermeasure, outcome, actions) of the actions closed in [start, end)."""
    stmt = (
        select(RetentionAction.value_segment, RetentionAction.countermeasure, RetentionAction.outcome, func.count())
        .where(RetentionAction.status == CLOSED, RetentionAction.closed_at >= start, RetentionAction.closed_at < end)
        .group_by(RetentionAction.value_segment, RetentionAction.countermeasure, RetentionAction.outcome)
    )
    return [(seg, measure, outcome, int(n)) for seg, measure, outcome, n in await session.execute(stmt)]


async def erase_notes(session: Session, customer_id: uuid.UUID) -> None:
    """An erased customer's actions keep their outcome and lose their free text."""
    await session.execute(
        update(RetentionAction)
        .where(RetentionAction.customer_id == customer_id, RetentionAction.note.is_not(None))
        .values(note=None, version=RetentionAction.version + 1)
    )


async def move_to_survivor(session: Session, *, duplicate_id: uuid.UUID, survivor_id: uuid.UUID) -> None:
    """A merge gives the duplicate's actions to the survivor; the duplicate's open one is closed
    (with no outcome) when the survivor has an open one already, keeping one open per customer."""
    survivor = aliased(RetentionAction)
    survivor_open = select(survivor.id).where(survivor.customer_id == survivor_id, survivor.status == OPEN).exists()
    await session.execute(
        update(RetentionAction)
        .where(RetentionAction.customer_id == duplicate_id, RetentionAction.status == OPEN, survivor_open)
        .values(status=CLOSED, version=RetentionAction.version + 1)
    )
    await reason_repo.log_moves(
        session, RetentionAction, "retention_action", duplicate_id=duplicate_id, survivor_id=survivor_id
    )
    await session.execute(
        update(RetentionAction)
        .where(RetentionAction.customer_id == duplicate_id)
        .values(customer_id=survivor_id, version=RetentionAction.version + 1)
    )


async def move_back(session: Session, *, duplicate_id: uuid.UUID, survivor_id: uuid.UUID) -> None:
    """Undoing a merge gives the duplicate back the actions that merge gave away (one closed by the
    merge stays closed: the re-scoring that follows opens a new one where one is needed)."""
    moved = reason_repo.moved_by_merge(
        RetentionAction, "retention_action", duplicate_id=duplicate_id, survivor_id=survivor_id
    )
    await session.execute(
        update(RetentionAction).where(moved).values(customer_id=duplicate_id, version=RetentionAction.version + 1)
    )
