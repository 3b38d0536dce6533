"""The gateway's schema, its declarative base, the session dependency, and the database types the
other layers name.

Routers and services name sessions as `Session` and `Sessionmaker` from here, and a constraint
violation as `IntegrityError`, so that only repositories (and models) import SQLAlchemy.
"""

from __future__ import annotations

from pathlib import Path
from typing import TypeAlias

from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import DeclarativeBase

from crm_chassis.db import SessionDep, make_metadata, normalise_url
from crm_chassis.tables import infra_tables

SCHEMA = "gateway"

Session: TypeAlias = AsyncSession
Sessionmaker: TypeAlias = async_sessionmaker[AsyncSession]


class Base(DeclarativeBase):
    metadata = make_metadata(SCHEMA)


# Declared on the same metadata so that autogenerate sees the infrastructure tables as existing.
infra = infra_tables(Base.metadata)


def ensure_sqlite_directory(url: str) -> None:
    """SQLite creates the file but not its folder: a fresh checkout has no `var/` yet."""
    parsed = make_url(normalise_url(url))
    if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)


__all__ = [
    "SCHEMA",
    "Base",
    "IntegrityError",
    "Session",
    "SessionDep",
    "Sessionmaker",
    "ensure_sqlite_directory",
    "infra",
]
