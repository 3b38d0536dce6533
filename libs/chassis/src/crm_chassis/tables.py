"""Infrastructure tables every service keeps in its own schema.

`infra_tables(metadata)` adds them to a service's metadata (for queries); migrations create them
with `create_infra_tables_v1`, frozen as they were first created so old migrations never change.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import BigInteger, Column, Index, Integer, LargeBinary, MetaData, String, Table, Text, Uuid

from crm_chassis.db import NAMING_CONVENTION, JsonType, UTCDateTime

SeqType = BigInteger().with_variant(Integer(), "sqlite")  # SQLite autoincrements INTEGER keys only


@dataclass(frozen=True)
class InfraTables:
    outbox: Table
    consumer_cursor: Table
    consumed_event: Table
    dead_letter: Table
    idempotency: Table
    relay_cursor: Table


def _columns_v1(metadata: MetaData) -> InfraTables:
    outbox = Table(
        "outbox_event",
        metadata,
        Column("seq", SeqType, primary_key=True, autoincrement=True),
        Column("id", Uuid, nullable=False, unique=True),
        Column("type", String(100), nullable=False),
        Column("aggregate_id", String(64), nullable=False),
        Column("version", Integer, nullable=False),
        Column("occurred_at", UTCDateTime, nullable=False),
        Column("data", JsonType, nullable=False),
    )
    consumer_cursor = Table(
        "consumer_cursor",
        metadata,
        Column("consumer", String(100), primary_key=True),
        Column("last_seq", BigInteger, nullable=False),
        Column("updated_at", UTCDateTime, nullable=False),
    )
    consumed_event = Table(
        "consumed_event",
        metadata,
        Column("consumer", String(100), primary_key=True),
        Column("event_id", Uuid, primary_key=True),
        Column("consumed_at", UTCDateTime, nullable=False),
    )
    dead_letter = Table(
        "dead_letter",
        metadata,
        Column("consumer", String(100), primary_key=True),
        Column("event_id", Uuid, primary_key=True),
        Column("event", JsonType, nullable=False),
        Column("error", Text, nullable=False),
        Column("failed_at", UTCDateTime, nullable=False),
    )
    idempotency = Table(
        "idempotency_key",
        metadata,
        Column("principal", String(200), primary_key=True),
        Column("key", String(255), primary_key=True),
        Column("fingerprint", String(64), nullable=False),
        Column("state", String(16), nullable=False),  # in_flight | done
        Column("status", Integer),
        Column("headers", JsonType),
        Column("body", LargeBinary),
        Column("created_at", UTCDateTime, nullable=False),
        Column("expires_at", UTCDateTime, nullable=False),
        Index("ix_idempotency_key_expires_at", "expires_at"),
    )
    relay_cursor = Table(
        "relay_cursor",
        metadata,
        Column("relay", String(100), primary_key=True),
        Column("last_seq", BigInteger, nullable=False),
        Column("updated_at", UTCDateTime, nullable=False),
    )
    return InfraTables(outbox, consumer_cursor, consumed_event, dead_letter, idempotency, relay_cursor)


def infra_tables(metadata: MetaData) -> InfraTables:
    """The tables as they are now: version 1 plus every later change below."""
    tables = _columns_v1(metadata)
    # v2: how often a parked item failed (each consumer attempt, each retry by an operator).
    tables.dead_letter.append_column(Column("attempts", Integer, nullable=False, server_default="1"))
    return tables


def add_dead_letter_attempts_v2(schema: str) -> None:
    """Version 2 inside an Alembic migration: `dead_letter.attempts`."""
    from alembic import op

    from crm_chassis.migrations import column_schema

    column = Column("attempts", Integer, nullable=False, server_default="1")
    op.add_column("dead_letter", column, schema=column_schema(schema))


def drop_dead_letter_attempts_v2(schema: str) -> None:
    from alembic import op

    from crm_chassis.migrations import column_schema

    op.drop_column("dead_letter", "attempts", schema=column_schema(schema))


def create_infra_tables_v1(schema: str) -> None:
    """Create the infrastructure tables inside an Alembic migration (version 1 of their shape)."""
    from alembic import op

    for table in _columns_v1(MetaData(schema=schema, naming_convention=NAMING_CONVENTION)).__dict__.values():
        table.create(op.get_bind())


def drop_infra_tables_v1(schema: str) -> None:
    from alembic import op

    for table in reversed(
        list(_columns_v1(MetaData(schema=schema, naming_convention=NAMING_CONVENTION)).__dict__.values())
    ):
        table.drop(op.get_bind())
