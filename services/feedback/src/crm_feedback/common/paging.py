"""Keyset pagination over a select of ORM rows (the chassis encodes the cursors)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_chassis.pagination import after_keyset, decode_cursor, encode_cursor

T = TypeVar("T")
Order = Sequence[tuple[Any, bool]]


async def fetch_page(
    session: AsyncSession, stmt: Select[T], order: Order, sort: str, limit: int, cursor: str | None
) -> tuple[Sequence[T], str | None]:
    if cursor:
        stmt = stmt.where(after_keyset(order, decode_cursor(cursor, sort, len(order))))
    stmt = stmt.order_by(*[col.desc() if desc else col.asc() for col, desc in order]).limit(limit + 1)
    rows = (await session.scalars(stmt)).all()
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor(sort, [getattr(rows[-1], col.key) for col, _ in order])
    return rows, next_cursor
