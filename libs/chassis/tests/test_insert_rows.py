"""`insert_rows`, the bulk path that skips SQLAlchemy's parameter building (binary COPY on
PostgreSQL, plain tuples through each column type's bind processor on SQLite), stores exactly what
an ordinary `INSERT` through SQLAlchemy stores: every column type read back the same."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Boolean, Column, Date, Integer, MetaData, Numeric, String, Table, Text, Uuid, insert, select

from crm_chassis.db import JsonType, UTCDateTime, create_engine, create_sessionmaker, insert_rows
from crm_chassis.testing import BACKENDS, scratch_database

metadata = MetaData(schema="bulk")
sample = Table(
    "sample",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("via", String(8)),
    Column("name", String(50)),
    Column("note", Text),
    Column("at", UTCDateTime),
    Column("day", Date),
    Column("amount", Numeric(12, 2)),
    Column("count", Integer),
    Column("flag", Boolean),
    Column("other", Uuid),
    Column("doc", JsonType),
)


def rows(via: str) -> list[dict[str, object]]:
    return [
        {
            "id": uuid.uuid4(),
            "via": via,
            "name": f"名字 {i} 'quoted'",
            "note": None if i % 2 else "a\nnote",
            "at": datetime(2026, 3, 4, 5, 6, 7, 891011, tzinfo=UTC),
            "day": date(2025, 12, 31),
            "amount": Decimal("12.30") * i,
            "count": i,
            "flag": bool(i % 2),
            "other": None if i % 3 else uuid.UUID(int=i),
            "doc": {"tags": ["a", "б"], "n": i, "nested": {"x": None}} if i % 2 else [],
        }
        for i in range(5)
    ]


@pytest.mark.parametrize("backend", BACKENDS)
async def test_bulk_rows_read_back_as_an_ordinary_insert_stores_them(backend: str, tmp_path: Path) -> None:
    async with scratch_database(backend, tmp_path, "bulk") as url:
        engine = create_engine(url, "bulk")
        if engine.dialect.name == "postgresql":
            async with engine.begin() as conn:
                await conn.exec_driver_sql("CREATE SCHEMA bulk")
        async with engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
        sessions = create_sessionmaker(engine)
        bulk, plain = rows("bulk"), rows("plain")
        async with sessions.begin() as session:
            await insert_rows(session, sample, bulk)
            await session.execute(insert(sample), plain)
        async with sessions() as session:
            stored: dict[str, list[dict[str, object]]] = {}
            for row in (await session.execute(select(sample).order_by(sample.c.count))).mappings():
                stored.setdefault(row["via"], []).append({k: v for k, v in row.items() if k not in ("id", "via")})
        await engine.dispose()
    expected = [{k: v for k, v in row.items() if k not in ("id", "via")} for row in plain]
    assert stored["plain"] == expected
    assert stored["bulk"] == stored["plain"]
