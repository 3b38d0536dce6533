"""The customer schema's metadata and base class, and the database types the other layers name.

Routers, services and import handlers name sessions as `Session` and `Sessionmaker`, and a unique
key taken by a concurrent writer as `IntegrityError`, from here, so that only repositories (and
models) import SQLAlchemy.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import Any, TypeAlias, TypeVar

from sqlalchemy import BindParameter, Boolean, ColumnElement, any_, bindparam, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import IntegrityError as IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.sql.compiler import SQLCompiler

from crm_chassis.db import make_metadata
from crm_chassis.pagination import Page, paginate
from crm_chassis.tables import infra_tables

SCHEMA = "customer"
metadata = make_metadata(SCHEMA)
infra = infra_tables(metadata)

Session: TypeAlias = AsyncSession
Sessionmaker: TypeAlias = async_sessionmaker[AsyncSession]


class Base(DeclarativeBase):
    metadata = metadata


class _OneOf(ColumnElement[bool]):
    """`column` among a chunk's keys; compiled per dialect below."""

    inherit_cache = False  # the keys differ on every call; the statement is compiled once per chunk
    type = Boolean()
    _is_implicitly_boolean = True  # a comparison already: no `= 1` after it on SQLite

    def __init__(self, column: Any, values: Iterable[Any]) -> None:
        self.column = column
        self.values = list(values)


@compiles(_OneOf)
def _in_literal_list(element: _OneOf, compiler: SQLCompiler, **kw: Any) -> str:
    # SQLite plans every statement anew: a plain IN list with the values written in.
    keys: BindParameter[Any] = bindparam("keys", element.values, expanding=True, literal_execute=True, unique=True)
    return compiler.process(element.column.in_(keys), **kw)


@compiles(_OneOf, "postgresql")
def _any_array(element: _OneOf, compiler: SQLCompiler, **kw: Any) -> str:
    # One array parameter: the statement text is the same for every chunk, so asyncpg prepares it
    # once, and PostgreSQL's generic plan for `= ANY($1)` is an index scan on the column.
    keys: BindParameter[Any] = bindparam(
        "keys", element.values, type_=postgresql.ARRAY(element.column.type), unique=True
    )
    return compiler.process(element.column == any_(keys), **kw)


def one_of(column: Any, values: Iterable[Any]) -> ColumnElement[bool]:
    """`column` is one of a chunk's keys, planned so that the column's index serves it.

    As `IN` with a thousand bind parameters, PostgreSQL soon switches the prepared statement to a
    generic plan that compares every row with every parameter (measured: 1.5 s per chunk at 100,000
    orders). Writing the keys into the statement avoided that but cost a parse and a plan of a
    statement a thousand keys long per chunk; PostgreSQL gets one array parameter instead
    (`= ANY($1)`), SQLite the literal list.
    """
    return _OneOf(column, values)


@asynccontextmanager
async def savepoint(session: Session) -> AsyncIterator[None]:
    """One item's writes, undone alone if the item fails (a row of an import, an item of a batch).

    PostgreSQL releases a lock taken inside a savepoint when the savepoint is rolled back, the
    outbox's ordering lock included; forgetting that it was taken makes the next event take it again.
    """
    try:
        async with session.begin_nested():
            yield
    except BaseException:
        session.info.pop("outbox_locked", None)
        raise


Record = TypeVar("Record")


async def customer_records_page(
    session: AsyncSession,
    model: type[Record],
    at: Any,
    customer_id: Any,
    limit: int,
    cursor: str | None,
    *,
    newest_first: bool = True,
) -> Page[Record]:
    """A page of one customer's records of `model` (a table with `customer_id` and `id`) in the
    order of their time column `at`, newest first unless told otherwise."""
    stmt = select(model).where(model.customer_id == customer_id)  # type: ignore[attr-defined]
    order = [(at, newest_first), (model.id, newest_first)]  # type: ignore[attr-defined]
    return await paginate(session, stmt, order, ("-" if newest_first else "") + at.key, limit, cursor)
