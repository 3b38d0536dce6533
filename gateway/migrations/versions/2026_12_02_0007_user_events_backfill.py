"""Every existing user account announced once as `user.created`, so that the services' read model
of users starts complete (the gateway's outbox is new to them).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from crm_chassis.db import JsonType, UTCDateTime

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "gateway"


def _tables(schema: str | None) -> tuple[sa.TableClause, sa.TableClause]:
    users = sa.table(
        "user_account",
        sa.column("id", sa.Uuid()),
        sa.column("role", sa.String()),
        sa.column("name", sa.String()),
        sa.column("is_active", sa.Boolean()),
        sa.column("manager_id", sa.Uuid()),
        sa.column("version", sa.Integer()),
        sa.column("created_at", UTCDateTime()),
        schema=schema,
    )
    outbox = sa.table(
        "outbox_event",
        sa.column("id", sa.Uuid()),
        sa.column("type", sa.String()),
        sa.column("aggregate_id", sa.String()),
        sa.column("version", sa.Integer()),
        sa.column("occurred_at", UTCDateTime()),
        sa.column("data", JsonType),
        schema=schema,
    )
    return users, outbox


def _team(role: str, user_id: uuid.UUID, manager_id: uuid.UUID | None) -> str | None:
    if role == "manager":
        return str(user_id)
    if role == "agent" and manager_id is not None:
        return str(manager_id)
    return None


def upgrade() -> None:
    bind = op.get_bind()
    users, outbox = _tables(None if bind.dialect.name == "sqlite" else SCHEMA)
    rows = bind.execute(sa.select(users).order_by(users.c.created_at, users.c.id)).mappings().all()
    now = datetime.now(UTC)
    events = [
        {
            "id": uuid.uuid4(),
            "type": "user.created",
            "aggregate_id": str(row["id"]),
            "version": row["version"],
            "occurred_at": now,
            "data": {
                "id": str(row["id"]),
                "role": row["role"],
                "name": row["name"],
                "team": _team(row["role"], row["id"], row["manager_id"]),
                "active": bool(row["is_active"]),
            },
        }
        for row in rows
    ]
    if events:
        op.bulk_insert(outbox, events)


def downgrade() -> None:
    # The announcements stay: consumers have read them, and a later upgrade announces again
    # (consumers apply a user's snapshot only when its version is newer than theirs).
    pass
