"""SLA policies and the deadlines they give a complaint."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from crm_chassis.db import utcnow
from crm_chassis.errors import Conflict, NotFound, Unprocessable
from crm_chassis.pagination import Page
from crm_chassis.patching import changes_of
from crm_feedback.db import Session
from crm_feedback.sla import repository as sla_repo
from crm_feedback.sla.clock import Calendar, Interval, add_working_time
from crm_feedback.sla.models import SlaPolicy
from crm_feedback.sla.official import OfficialCalendar, coverage
from crm_feedback.sla.schemas import SlaPolicyCreate, SlaPolicyUpdate


async def _check_scope(session: Session, severity: str, category: str | None, exclude: uuid.UUID | None) -> None:
    other = await sla_repo.find_same_scope(session, severity, category, exclude)
    if other is not None:
        raise Conflict(
            f"a policy for severity {severity} and category {category or 'any'} already exists",
            code="duplicate_sla_policy",
            existing_id=str(other.id),
        )


async def create(session: Session, *, data: SlaPolicyCreate) -> SlaPolicy:
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


async def get(session: Session, *, policy_id: uuid.UUID) -> SlaPolicy:
    policy = await sla_repo.get(session, policy_id)
    if policy is None:
        raise NotFound(f"SLA policy {policy_id} does not exist", code="sla_policy_not_found")
    return policy


async def update(session: Session, *, policy: SlaPolicy, data: SlaPolicyUpdate) -> SlaPolicy:
    fields = changes_of(data, not_nullable=("name", "active"))
    for name in ("name", "active"):
        if name in fields:
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


async def delete(session: Session, *, policy: SlaPolicy) -> None:
    policy.deleted_at = policy.updated_at = utcnow()
    await session.flush()


async def list_page(session: Session, *, severity: str | None, limit: int, cursor: str | None) -> Page[SlaPolicy]:
    return await sla_repo.list_page(session, severity, limit, cursor)


def deadlines(
    policy: SlaPolicy, opened_at: datetime, pauses: Sequence[Interval]
) -> tuple[datetime, datetime, list[dict[str, Any]]]:
    """First-response and resolution deadlines of a complaint opened at `opened_at`, and the
    warnings about them: `calendar_out_of_range` when the official calendar the policy follows
    does not cover a year the clock ran through (those days were counted by the weekdays alone)."""
    calendar = Calendar.from_json(policy.calendar) if policy.calendar else None
    first = add_working_time(opened_at, timedelta(minutes=policy.first_response_minutes), calendar, pauses)
    resolution = add_working_time(opened_at, timedelta(minutes=policy.resolution_minutes), calendar, pauses)
    warnings: list[dict[str, Any]] = []
    missing = calendar.years_not_covered(opened_at, resolution) if calendar else []
    if calendar is not None and calendar.official is not None and missing:
        covered = coverage(calendar.official).years
        warnings.append(
            {
                "code": "calendar_out_of_range",
                "message": f"the {calendar.official.value} official calendar covers {covered[0]}–{covered[-1]}, not "
                f"{', '.join(map(str, missing))}: days of those years were counted by the policy's weekdays and "
                "holidays only, without public holidays or make-up working days",
                "calendar": calendar.official.value,
                "years": missing,
            }
        )
    return first, resolution, warnings


def official_calendars() -> list[OfficialCalendar]:
    return list(OfficialCalendar)


def official_calendar(calendar_id: str, year: int | None) -> dict[str, Any]:
    """An official calendar's coverage; with `year`, that year's days off and make-up working days."""
    try:
        data = coverage(OfficialCalendar(calendar_id))
    except ValueError:
        raise NotFound(f"no official calendar {calendar_id!r}", code="sla_calendar_not_found") from None
    out: dict[str, Any] = {"id": data.id, "name": data.name, "source": data.source, "years": list(data.years)}
    if year is not None:
        if year not in data.years:
            raise Unprocessable(
                f"{calendar_id} covers {data.years[0]}–{data.years[-1]}",
                code="calendar_out_of_range",
                errors=[{"field": "year", "code": "calendar_out_of_range", "message": f"{year} is not covered"}],
            )
        out["holidays"] = sorted(d for d in data.holidays if d.year == year)
        out["workdays"] = sorted(d for d in data.workdays if d.year == year)
    return out
