from typing import TypeAlias

from sqlalchemy import BigInteger, Integer
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import DeclarativeBase

from crm_chassis.db import make_metadata
from crm_chassis.tables import infra_tables

SCHEMA = "feedback"
metadata = make_metadata(SCHEMA)
infra = infra_tables(metadata)

# SQLite autoincrements INTEGER primary keys only.
SeqType = BigInteger().with_variant(Integer(), "sqlite")

# The names services, handlers and workers use for a transaction and for database failures, so
# that only repositories (and this module) import SQLAlchemy.
Session: TypeAlias = AsyncSession
Sessionmaker: TypeAlias = async_sessionmaker[AsyncSession]
DatabaseError = SQLAlchemyError


class Base(DeclarativeBase):
    metadata = metadata
