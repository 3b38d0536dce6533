"""Cursor pagination: opaque cursors over a stable keyset order, `{"items", "next_cursor"}` pages.

`?include_total=true` on any list adds `total`, the count of every item the filters select (all
pages). The list's `PageDep` reads the flag into a context variable for the request, so that
`paginate` and `paginate_rows` count the same statement they page without every caller passing it.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextvars import ContextVar
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Generic, TypeVar
from uuid import UUID

from fastapi import Depends, Query
from pydantic import BaseModel, Field
from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from crm_chassis.errors import Unprocessable

T = TypeVar("T")
U = TypeVar("U")
DEFAULT_LIMIT = 50
MAX_LIMIT = 200


# Whether the list being answered was asked for its total (set by `page_params` per request).
_include_total: ContextVar[bool] = ContextVar("crm_include_total", default=False)


def total_field() -> Any:
    """The `total` of a page: present only when the client asked for `?include_total=true`."""
    return Field(
        None,
        description="with ?include_total=true: how many items all pages hold",
        exclude_if=lambda value: value is None,
    )


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None
    total: int | None = total_field()

    @classmethod
    def model_parametrized_name(cls, params: tuple[Any, ...]) -> str:
        """`Page[OrderRead]` is `OrderPage` in the OpenAPI document: a name generated clients can use."""
        return f"{params[0].__name__.removesuffix('Read')}Page"

    def map(self, convert: Callable[[T], U]) -> Page[U]:
        """The same page with every item converted (rows to response models, say)."""
        return Page.model_construct(
            items=[convert(item) for item in self.items], next_cursor=self.next_cursor, total=self.total
        )


class PageParams(BaseModel):
    limit: int
    cursor: str | None
    include_total: bool = False


async def page_params(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="page size (max 200)")] = DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query(max_length=2048, description="next_cursor of the previous page")] = None,
    include_total: Annotated[bool, Query(description="add `total`, the count of all pages")] = False,
) -> AsyncIterator[PageParams]:
    token = _include_total.set(include_total)
    try:
        yield PageParams(limit=limit, cursor=cursor, include_total=include_total)
    finally:
        # ValueError: left in another context, where nothing of this request remains to reset
        with contextlib.suppress(ValueError):
            _include_total.reset(token)


@contextlib.contextmanager
def counting_totals() -> Iterator[None]:
    """Pages listed inside carry `total`, as if the client had asked for `?include_total=true`."""
    token = _include_total.set(True)
    try:
        yield
    finally:
        _include_total.reset(token)


def total_requested() -> bool:
    """Whether the list being answered was asked for `?include_total=true`."""
    return _include_total.get()


async def count_of(session: AsyncSession, stmt: Select[Any]) -> int:
    """How many rows `stmt` selects (its order and limit aside)."""
    counted = select(func.count()).select_from(stmt.order_by(None).limit(None).subquery())
    return int(await session.scalar(counted) or 0)


PageDep = Annotated[PageParams, Depends(page_params)]


def _encode_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"dt": value.isoformat()}
    if isinstance(value, date):
        return {"d": value.isoformat()}
    if isinstance(value, UUID):
        return {"uuid": str(value)}
    if isinstance(value, Decimal):
        return {"dec": str(value)}
    return value


def _decode_value(value: Any) -> Any:
    if isinstance(value, dict):
        if "dt" in value:
            return datetime.fromisoformat(value["dt"])
        if "d" in value:
            return date.fromisoformat(value["d"])
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
    other_sort = "the cursor was made for another list or sort order; use next_cursor as it was given"
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        payload = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if payload["s"] != sort or len(payload["v"]) != size:
            raise _Mismatch
        return [_decode_value(v) for v in payload["v"]]
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError) as exc:
        # the decoder's own words (a codec, a byte position) tell a client nothing it can act on
        message = other_sort if isinstance(exc, _Mismatch) else "not a cursor this list gave out"
        raise Unprocessable(
            "the cursor is not valid for this list and sort order",
            errors=[{"field": "cursor", "code": "invalid_cursor", "message": message}],
        ) from exc


class _Mismatch(ValueError):
    pass


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
    stmt: Select[T],
    order: Sequence[tuple[Any, bool]],
    sort: str,
    limit: int,
    cursor: str | None,
) -> Page[T]:
    """One page of `stmt` in keyset `order` (columns with a descending flag), with the next cursor.

    The last column of `order` must be unique (the id) so that the order is total and stable.
    """
    total = await count_of(session, stmt) if total_requested() else None
    stmt = _keyset_page(stmt, order, sort, limit, cursor)
    rows = list((await session.scalars(stmt)).all())
    return _page(rows, limit, sort, lambda row: [getattr(row, col.key) for col, _ in order], total)


async def paginate_rows(
    session: AsyncSession,
    stmt: Select[*tuple[Any, ...]],
    order: Sequence[tuple[Any, bool]],
    sort: str,
    limit: int,
    cursor: str | None,
    key: Callable[[Any], Sequence[Any]],
) -> Page[Any]:
    """`paginate` for a statement of several columns (a record with its joined fields): `key` gives
    a row's values of the `order` columns, for the next cursor."""
    total = await count_of(session, stmt) if total_requested() else None
    stmt = _keyset_page(stmt, order, sort, limit, cursor)
    return _page(list((await session.execute(stmt)).all()), limit, sort, key, total)


def _keyset_page(
    stmt: Select[*tuple[Any, ...]], order: Sequence[tuple[Any, bool]], sort: str, limit: int, cursor: str | None
) -> Select[*tuple[Any, ...]]:
    if cursor:
        stmt = stmt.where(after_keyset(order, decode_cursor(cursor, sort, len(order))))
    return stmt.order_by(*[col.desc() if desc else col.asc() for col, desc in order]).limit(limit + 1)


def _page(
    rows: list[Any], limit: int, sort: str, key: Callable[[Any], Sequence[Any]], total: int | None = None
) -> Page[Any]:
    if len(rows) <= limit:
        return Page.model_construct(items=rows, next_cursor=None, total=total)
    rows = rows[:limit]
    return Page.model_construct(items=rows, next_cursor=encode_cursor(sort, key(rows[-1])), total=total)
