"""The scoring schema's metadata and base class, and the database types the other layers name.

Routers, services, handlers and workers name sessions as `Session` and `Sessionmaker` from here,
so that only repositories (and models) import SQLAlchemy.
"""

from __future__ import annotations

from typing import TypeAlias

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import DeclarativeBase

from crm_chassis.db import make_metadata
from crm_chassis.tables import infra_tables

SCHEMA = "scoring"
metadata = make_metadata(SCHEMA)
infra = infra_tables(metadata)

Session: TypeAlias = AsyncSession
Sessionmaker: TypeAlias = async_sessionmaker[AsyncSession]


class Base(DeclarativeBase):
    metadata = metadata
