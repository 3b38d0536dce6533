"""SLA policies and the deadlines they give a complaint."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from crm_chassis.db import utcnow
from crm_chassis.errors import Conflict, NotFound, Unprocessable
from crm_feedback.sla import repository as sla_repo
from crm_feedback.sla.clock import Calendar, Interval, add_working_time
from crm_feedback.sla.models import SlaPolicy
from crm_feedback.sla.schemas import SlaPolicyCreate, SlaPolicyUpdate


async def _check_scope(session: AsyncSession, severity: str, category: str | None, exclude: uuid.UUID | None) -> None:
    other = await sla_repo.find_same_scope(session, severity, category, exclude)
    if other is not None:
        raise Conflict(
            f"a policy for severity {severity} and category {category or 'any'} already exists",
            code="duplicate_sla_policy",
            existing_id=str(other.id),
        )


async def create(session: AsyncSession, *, data: SlaPolicyCreate) -> SlaPolicy:
    await _check_scope(session, data.severity, data.category, None)
    now = utcnow()
    policy = SlaPolicy(
        id=uuid.uuid4(),
        name=data.name,
        severity=data.severity,
        category=data.category,
        calendar=data.calendar.to_json() if data.calendar else None,
        active=True if data.active is None else data.active,
        created_at=now,
        updated_at=now,
        **data.targets(),
    )
    session.add(policy)
    await session.flush()
    return policy


async def get(session: AsyncSession, *, policy_id: uuid.UUID) -> SlaPolicy:
    policy = await sla_repo.get(session, policy_id)
    if policy is None:
        raise NotFound(f"SLA policy {policy_id} does not exist", code="sla_policy_not_found")
    return policy


async def update(session: AsyncSession, *, policy: SlaPolicy, data: SlaPolicyUpdate) -> SlaPolicy:
    fields = data.model_dump(exclude_unset=True)
    for name in ("name", "active"):
        if name in fields:
            if fields[name] is None:
                raise Unprocessable(
                    f"invalid input: {name}",
                    errors=[{"field": name, "code": "required", "message": f"{name} cannot be cleared"}],
                )
            setattr(policy, name, fields[name])
    for name, minutes in data.targets().items():
        setattr(policy, name, minutes)
    if policy.resolution_minutes < policy.first_response_minutes:
        raise Unprocessable(
            "invalid input: resolution_minutes",
            errors=[
                {
                    "field": "resolution_minutes",
                    "code": "shorter_than_first_response",
                    "message": "the resolution target cannot be shorter than the first-response target",
                }
            ],
        )
    if "calendar" in fields:
        policy.calendar = data.calendar.to_json() if data.calendar else None
    policy.updated_at = utcnow()
    await session.flush()
    return policy


async def delete(session: AsyncSession, *, policy: SlaPolicy) -> None:
    policy.deleted_at = policy.updated_at = utcnow()
    await session.flush()


async def list_page(
    session: AsyncSession, *, severity: str | None, limit: int, cursor: str | None
) -> tuple[Sequence[SlaPolicy], str | None]:
    return await sla_repo.list_page(session, severity, limit, cursor)


def deadlines(policy: SlaPolicy, opened_at: datetime, pauses: Sequence[Interval]) -> tuple[datetime, datetime]:
    """First-response and resolution deadlines of a complaint opened at `opened_at`."""
    calendar = Calendar.from_json(policy.calendar) if policy.calendar else None
    first = add_working_time(opened_at, timedelta(minutes=policy.first_response_minutes), calendar, pauses)
    resolution = add_working_time(opened_at, timedelta(minutes=policy.resolution_minutes), calendar, pauses)
    return first, resolution
