"""Engines, sessions and column types that behave the same on PostgreSQL and SQLite."""

from __future__ import annotations

import errno
import json
import operator
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import JSON, DateTime, MetaData, Table, event, insert
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.types import TypeDecorator

from crm_chassis.dates import sqlite_business_date

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# JSONB on PostgreSQL (indexable, compact), plain JSON text on SQLite.
JsonType = JSON().with_variant(JSONB(), "postgresql")


# A client told the database is unreachable waits this long before it retries.
DATABASE_RETRY_AFTER_SECONDS = 2


def lost_a_race(exc: BaseException) -> bool:
    """A transaction the database rolled back to settle a conflict with another one (SQLSTATE class
    40: a deadlock, a serialization failure): nothing is wrong with the request, and it succeeds
    when tried again."""
    if not isinstance(exc, sa_exc.DBAPIError):
        return False
    sqlstate = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
    return isinstance(sqlstate, str) and sqlstate.startswith("40")


_CONNECTION_ERRNOS = {
    errno.ECONNREFUSED,
    errno.ECONNRESET,
    errno.ECONNABORTED,
    errno.EHOSTUNREACH,
    errno.ENETUNREACH,
    errno.ETIMEDOUT,
    errno.EPIPE,
}
# asyncpg's names for "the server went away or is going": shutdown, restart, refused connection.
_ASYNCPG_UNAVAILABLE = {
    "ConnectionDoesNotExistError",
    "ConnectionFailureError",
    "CannotConnectNowError",
    "AdminShutdownError",
    "CrashShutdownError",
    "TooManyConnectionsError",
    "PostgresConnectionError",
    "ClientCannotConnectError",
    "ConnectionRejectionError",
}


def is_database_unavailable(exc: BaseException) -> bool:
    """Whether `exc` (or what caused it) says the database cannot be reached right now, as opposed
    to a fault of the request or of the code."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, sa_exc.OperationalError | sa_exc.TimeoutError):
            return True
        if isinstance(current, sa_exc.DBAPIError) and current.connection_invalidated:
            return True
        if type(current).__name__ in _ASYNCPG_UNAVAILABLE or any(
            base.__name__ in _ASYNCPG_UNAVAILABLE for base in type(current).__mro__
        ):
            return True
        if isinstance(current, ConnectionError):
            return True
        if type(current) is OSError and (current.errno in _CONNECTION_ERRNOS or "Connect call failed" in str(current)):
            return True  # asyncpg's connect to a server that is down (one or several addresses)
        current = current.__cause__ or current.__context__
    return False


def make_metadata(schema: str) -> MetaData:
    return MetaData(schema=schema, naming_convention=NAMING_CONVENTION)


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on both databases (SQLite would hand back naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use timezone-aware UTC")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def normalise_url(url: str) -> str:
    """Accept plain `postgresql://` URLs and use the asyncpg driver for them."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    return url


def create_engine(
    url: str, schema: str, *, pool_size: int = 10, echo: bool = False, read_only: bool = False
) -> AsyncEngine:
    """An async engine for one service's schema.

    SQLite has no schemas, so the schema is translated away. A SQLite transaction that may write
    starts with BEGIN IMMEDIATE: a deferred transaction that reads and then writes can fail at once
    with "database is locked" whatever the busy timeout, while an immediate one waits its turn.
    A `read_only` engine begins deferred transactions instead, so that reads (WAL snapshots) never
    queue behind the single writer.
    """
    url = normalise_url(url)
    if url.startswith("sqlite"):
        engine = create_async_engine(
            url,
            echo=echo,
            execution_options={"schema_translate_map": {schema: None}},
            connect_args={"timeout": 30},
        )

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()
            dbapi_connection.create_function("business_date", 1, sqlite_business_date, deterministic=True)

        begin = "BEGIN" if read_only else "BEGIN IMMEDIATE"

        @event.listens_for(engine.sync_engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            conn.exec_driver_sql(begin)

        return engine
    return create_async_engine(
        url,
        echo=echo,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        pool_recycle=1800,
        # Every execution of a prepared statement is planned with its own values. After five
        # executions PostgreSQL may keep a generic plan, costed with the table's size at that
        # moment, until the next ANALYZE: a lookup of `(source, external_ref) = ($1, ANY($2))`
        # planned while the orders table was nearly empty kept scanning every order of the source
        # (up to 4 s a chunk at 100,000 orders). Planning such a statement costs well under a
        # millisecond; asyncpg still saves the parse.
        connect_args={"server_settings": {"plan_cache_mode": "force_custom_plan"}},
    )


def create_read_engine(url: str, schema: str, writer: AsyncEngine, *, pool_size: int = 10) -> AsyncEngine:
    """The engine for safe (read-only) requests: the writer itself, except on SQLite."""
    if writer.dialect.name != "sqlite":
        return writer
    return create_engine(url, schema, pool_size=pool_size, read_only=True)


def create_sessionmaker(engine: AsyncEngine, **info: Any) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, info=info)


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One transaction per request, committed before the response is sent.

    Safe methods get a session from the read engine when the app has one.
    """
    state = request.app.state
    sessionmaker: async_sessionmaker[AsyncSession] = (
        getattr(state, "read_sessionmaker", state.sessionmaker)
        if request.method in SAFE_METHODS
        else state.sessionmaker
    )
    async with sessionmaker() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise


SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


async def insert_rows(session: AsyncSession, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Many complete rows into `table` in the session's transaction, as fast as the database allows.

    On PostgreSQL through binary COPY, on SQLite as one `executemany` of plain tuples (building
    SQLAlchemy's parameters for thousands of rows costs more than the database's insert); elsewhere
    as SQLAlchemy's executemany. Every row gives the same columns, those of the first; JSON columns
    take the Python values, as the ORM would.
    """
    if not rows:
        return
    dialect = session.get_bind().dialect
    names = list(rows[0])
    connection = await session.connection()
    if dialect.name == "postgresql":
        json_at = [(i, json.dumps) for i, name in enumerate(names) if isinstance(table.c[name].type, JSON)]
        raw = await connection.get_raw_connection()
        await raw.driver_connection.copy_records_to_table(  # type: ignore[union-attr]
            table.name, records=_records(rows, names, json_at), columns=names, schema_name=table.schema
        )
    elif dialect.name == "sqlite":
        # Each value through its column type's bind processor, as SQLAlchemy would pass it.
        processors = [table.c[n].type.dialect_impl(dialect).bind_processor(dialect) for n in names]
        converting = [(i, p) for i, p in enumerate(processors) if p is not None]
        quote = dialect.identifier_preparer.quote
        columns, marks = ", ".join(quote(n) for n in names), ", ".join("?" for _ in names)
        sql = f"INSERT INTO {quote(table.name)} ({columns}) VALUES ({marks})"  # noqa: S608 - quoted names, bound values
        await connection.exec_driver_sql(sql, [tuple(r) for r in _records(rows, names, converting)])
    else:
        await session.execute(insert(table), list(rows))


def _records(
    rows: Sequence[Mapping[str, Any]], names: list[str], converting: Sequence[tuple[int, Callable[[Any], Any]]]
) -> list[Sequence[Any]]:
    """The rows' values in the order of `names`, each column at an index of `converting` passed
    through its converter (one pass over the rows, whatever the number of such columns)."""
    values = operator.itemgetter(*names)
    records: list[Any] = [values(row) for row in rows] if len(names) > 1 else [(values(row),) for row in rows]
    if converting:
        records = [list(r) for r in records]
        for r in records:
            for i, convert in converting:
                r[i] = convert(r[i])
    return records


def upsert(session: AsyncSession, table: Table) -> postgresql.Insert | sqlite.Insert:
    """`INSERT` into `table` in the session's dialect, with `on_conflict_do_update` and `excluded`:
    PostgreSQL and SQLite spell the upsert alike, but SQLAlchemy builds it per dialect."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(table)
    if dialect == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"upsert on {dialect}")
