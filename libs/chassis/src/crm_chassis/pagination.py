"""Cursor pagination: opaque cursors over a stable keyset order, `{"items", "next_cursor"}` pages."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Generic, TypeVar
from uuid import UUID

from fastapi import Depends, Query
from pydantic import BaseModel
from sqlalchemy import Select, and_, or_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from crm_chassis.errors import Unprocessable

T = TypeVar("T")
DEFAULT_LIMIT = 50
MAX_LIMIT = 200


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


class PageParams(BaseModel):
    limit: int
    cursor: str | None


def page_params(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="page size (max 200)")] = DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query(max_length=2048, description="next_cursor of the previous page")] = None,
) -> PageParams:
    return PageParams(limit=limit, cursor=cursor)


PageDep = Annotated[PageParams, Depends(page_params)]


def _encode_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"dt": value.isoformat()}
    if isinstance(value, UUID):
        return {"uuid": str(value)}
    if isinstance(value, Decimal):
        return {"dec": str(value)}
    return value


def _decode_value(value: Any) -> Any:
    if isinstance(value, dict):
        if "dt" in value:
            return datetime.fromisoformat(value["dt"])
        if "uuid" in value:
            return UUID(value["uuid"])
        if "dec" in value:
            return Decimal(value["dec"])
        raise ValueError("unknown cursor value")
    return value


def encode_cursor(sort: str, values: Sequence[Any]) -> str:
    raw = json.dumps({"s": sort, "v": [_encode_value(v) for v in values]}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, sort: str, size: int) -> list[Any]:
    """The keyset values in a cursor; 422 if it is not one of ours or was made for another sort."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        payload = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if payload["s"] != sort or len(payload["v"]) != size:
            raise ValueError("cursor made for another sort order")
        return [_decode_value(v) for v in payload["v"]]
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError) as exc:
        raise Unprocessable(
            "the cursor is not valid for this list and sort order",
            errors=[{"field": "cursor", "code": "invalid_cursor", "message": str(exc)}],
        ) from exc


def after_keyset(order: Sequence[tuple[ColumnElement[Any], bool]], values: Sequence[Any]) -> ColumnElement[bool]:
    """Rows strictly after `values` in the order given as (column, descending) pairs.

    Expands to (a > x) OR (a = x AND b > y) ..., which handles mixed directions and NULL-free keys.
    """
    clauses = []
    for i, (column, descending) in enumerate(order):
        equal = [order[j][0] == values[j] for j in range(i)]
        step = column < values[i] if descending else column > values[i]
        clauses.append(and_(*equal, step))
    return or_(*clauses)


async def paginate(
    session: AsyncSession,
    stmt: Select[Any],
    order: Sequence[tuple[Any, bool]],
    sort: str,
    limit: int,
    cursor: str | None,
) -> tuple[list[Any], str | None]:
    """One page of `stmt` in keyset `order` (columns with a descending flag), and the next cursor.

    The last column of `order` must be unique (the id) so that the order is total and stable.
    """
    if cursor:
        stmt = stmt.where(after_keyset(order, decode_cursor(cursor, sort, len(order))))
    stmt = stmt.order_by(*[col.desc() if desc else col.asc() for col, desc in order]).limit(limit + 1)
    rows = list((await session.scalars(stmt)).all())
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    return rows, encode_cursor(sort, [getattr(rows[-1], col.key) for col, _ in order])
