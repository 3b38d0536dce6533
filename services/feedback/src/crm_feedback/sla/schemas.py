"""Request and response shapes of `/sla-policies`."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from crm_chassis.dates import CalendarDate
from crm_feedback.common.enums import Category, Severity
from crm_feedback.sla.official import OfficialCalendar

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Minutes = Annotated[int, Field(ge=1, le=365 * 24 * 60)]
Hours = Annotated[float, Field(gt=0, le=365 * 24)]


class BusinessCalendar(BaseModel):
    model_config = ConfigDict(extra="forbid")

    timezone: str = Field(description="IANA zone, e.g. Asia/Shanghai")
    weekdays: Annotated[list[Annotated[int, Field(ge=0, le=6)]], Field(min_length=1, max_length=7)] = Field(
        default_factory=lambda: [0, 1, 2, 3, 4], description="working days, 0 = Monday"
    )
    opens: time = Field(description="local opening time, e.g. 09:00")
    closes: time = Field(description="local closing time, after `opens`")
    holidays: Annotated[list[CalendarDate], Field(max_length=1000)] = Field(default_factory=list)
    official: OfficialCalendar | None = Field(
        default=None,
        description="follow an official working calendar (GET /sla-calendars/{id}): `CN` takes China's public "
        "holidays as days off and its make-up working days (调休) as working days; `weekdays` and `holidays` "
        "decide the other days. A day in a year it does not cover gives the complaint a "
        "`calendar_out_of_range` warning",
    )

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @model_validator(mode="after")
    def _hours(self) -> BusinessCalendar:
        if self.opens.tzinfo or self.closes.tzinfo:
            raise ValueError("opens and closes are local times without an offset")
        if self.closes <= self.opens:
            raise ValueError("closes must be after opens")
        return self

    def to_json(self) -> dict[str, Any]:
        return {
            "timezone": self.timezone,
            "weekdays": sorted(set(self.weekdays)),
            "opens": self.opens.isoformat(timespec="minutes"),
            "closes": self.closes.isoformat(timespec="minutes"),
            "holidays": sorted({d.isoformat() for d in self.holidays}),
            **({"official": self.official.value} if self.official else {}),
        }


def _target(minutes: int | None, hours: float | None, name: str) -> int | None:
    if minutes is not None and hours is not None:
        raise ValueError(f"give {name}_minutes or {name}_hours, not both")
    return minutes if hours is None else round(hours * 60)


class SlaPolicyFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    first_response_minutes: Minutes | None = None
    first_response_hours: Hours | None = None
    resolution_minutes: Minutes | None = None
    resolution_hours: Hours | None = None
    calendar: BusinessCalendar | None = None
    active: bool | None = None

    @model_validator(mode="after")
    def _one_unit(self) -> SlaPolicyFields:
        _target(self.first_response_minutes, self.first_response_hours, "first_response")
        _target(self.resolution_minutes, self.resolution_hours, "resolution")
        return self

    def targets(self) -> dict[str, int]:
        out = {}
        first = _target(self.first_response_minutes, self.first_response_hours, "first_response")
        resolution = _target(self.resolution_minutes, self.resolution_hours, "resolution")
        if first is not None:
            out["first_response_minutes"] = first
        if resolution is not None:
            out["resolution_minutes"] = resolution
        return out


class SlaPolicyCreate(SlaPolicyFields):
    name: Name
    severity: Severity
    category: Category | None = Field(default=None, description="none: every category of the severity")

    @model_validator(mode="after")
    def _required_targets(self) -> SlaPolicyCreate:
        targets = self.targets()
        for name in ("first_response", "resolution"):
            if f"{name}_minutes" not in targets:
                raise ValueError(f"{name}_minutes or {name}_hours is required")
        if targets["resolution_minutes"] < targets["first_response_minutes"]:
            raise ValueError("the resolution target cannot be shorter than the first-response target")
        return self


class SlaPolicyUpdate(SlaPolicyFields):
    """Only the fields sent change; `calendar: null` makes the clock run around the clock."""


class SlaPolicyRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    severity: Severity
    category: Category | None
    first_response_minutes: int
    resolution_minutes: int
    calendar: BusinessCalendar | None
    active: bool
    created_at: datetime
    updated_at: datetime
    version: int


class SlaCalendarRead(BaseModel):
    """An official working calendar that SLA business calendars can follow (`calendar.official`)."""

    id: OfficialCalendar
    name: str
    source: str = Field(description="the data package and its version")
    years: list[int] = Field(description="the years covered; a day outside them is `calendar_out_of_range`")
    holidays: list[date] | None = Field(default=None, description="with `?year=`: that year's official days off")
    workdays: list[date] | None = Field(
        default=None, description="with `?year=`: that year's make-up working days (调休)"
    )
