"""SLA business calendars that follow China's official working calendar (chinesecalendar): public
holidays off, make-up working days (调休) on, coverage listed, and out-of-range days flagged."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
from feedback_helpers import create_complaint

from crm_feedback.sla.clock import Calendar, add_working_time
from crm_feedback.sla.official import OfficialCalendar

SHANGHAI = ZoneInfo("Asia/Shanghai")
CN_CALENDAR = {"timezone": "Asia/Shanghai", "opens": "09:00", "closes": "18:00", "official": "CN"}


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)  # type: ignore[misc]


def test_national_day_week_and_its_make_up_days_in_the_clock() -> None:
    official = Calendar(SHANGHAI, frozenset(range(5)), local(2025, 1, 1, 9).time(), local(2025, 1, 1, 18).time(),
                        official=OfficialCalendar.CN)  # fmt: skip
    plain = Calendar(SHANGHAI, frozenset(range(5)), official.opens, official.closes)
    # Tuesday 30 Sep 17:00, one working hour left that day; 1-8 Oct are off; Sat 11 Oct is worked.
    start = local(2025, 9, 30, 17)
    assert add_working_time(start, timedelta(hours=28), official) == local(2025, 10, 11, 18)
    assert add_working_time(start, timedelta(hours=28), plain) == local(2025, 10, 3, 18)  # no holidays at all
    # Sunday 28 Sep is a make-up working day: an hour asked on Saturday the 27th is due on Sunday.
    assert add_working_time(local(2025, 9, 27, 10), timedelta(hours=1), official) == local(2025, 9, 28, 10)
    assert add_working_time(local(2025, 9, 27, 10), timedelta(hours=1), plain) == local(2025, 9, 29, 10)


async def test_complaint_deadline_across_national_day(client: httpx.AsyncClient, customer_id: uuid.UUID) -> None:
    policy = await client.post(
        "/sla-policies",
        json={
            "name": "High, China working days",
            "severity": "high",
            "first_response_minutes": 60,
            "resolution_hours": 50,
            "calendar": CN_CALENDAR,
        },
    )
    assert policy.status_code == 201, policy.text
    assert policy.json()["calendar"]["official"] == "CN"
    # Opened on Saturday 27 Sep (a day off): first response due on the make-up Sunday at 10:00, and
    # 50 working hours = 28 Sep, 29 Sep, 30 Sep, 9 Oct, 10 Oct (45 h) + 5 h of the make-up Saturday.
    complaint = await create_complaint(client, customer_id, opened_at="2025-09-27T10:00:00+08:00")
    assert complaint["first_response_due_at"] == "2025-09-28T02:00:00Z"  # 10:00 Shanghai, Sunday
    assert complaint["resolution_due_at"] == "2025-10-11T06:00:00Z"  # 14:00 Shanghai, Saturday
    assert complaint["sla_warnings"] == []


async def test_a_deadline_beyond_the_covered_years_is_flagged(
    client: httpx.AsyncClient, customer_id: uuid.UUID
) -> None:
    covered = (await client.get("/sla-calendars/CN")).json()["years"]
    last = covered[-1]
    body = {"name": "Long", "severity": "high", "first_response_minutes": 60, "resolution_hours": 600}
    assert (await client.post("/sla-policies", json={**body, "calendar": CN_CALENDAR})).status_code == 201
    # 600 working hours (some 67 working days) from 1 December of the last covered year run into the next.
    opened = datetime(last, 12, 1, 1, 0, tzinfo=UTC)
    complaint = await create_complaint(client, customer_id, opened_at=opened.isoformat())
    assert datetime.fromisoformat(complaint["resolution_due_at"]).year == last + 1
    [warning] = complaint["sla_warnings"]
    assert warning["code"] == "calendar_out_of_range"
    assert warning["calendar"] == "CN" and warning["years"] == [last + 1]
    read = (await client.get(f"/complaints/{complaint['id']}")).json()
    assert read["sla_warnings"] == complaint["sla_warnings"]
    # a deadline set by hand carries no calendar warning
    edited = await client.patch(
        f"/complaints/{complaint['id']}",
        json={"resolution_due_at": opened.isoformat()},
        headers={"If-Match": f'"{read["version"]}"'},
    )
    assert edited.status_code == 200, edited.text
    assert edited.json()["sla_warnings"] == []


async def test_sla_calendars_list_the_years_covered(client: httpx.AsyncClient) -> None:
    listed = await client.get("/sla-calendars")
    assert listed.status_code == 200
    assert [c["id"] for c in listed.json()] == ["CN"]
    cn = (await client.get("/sla-calendars/CN")).json()
    assert cn["source"].startswith("chinesecalendar ") and {2025, 2026} <= set(cn["years"])
    assert cn["years"] == list(range(cn["years"][0], cn["years"][-1] + 1))
    assert cn["holidays"] is None
    year = (await client.get("/sla-calendars/CN", params={"year": 2025})).json()
    holidays = {date.fromisoformat(d) for d in year["holidays"]}
    assert {date(2025, 10, d) for d in range(1, 9)} <= holidays
    assert {"2025-09-28", "2025-10-11"} <= set(year["workdays"])
    missing = await client.get("/sla-calendars/XX")
    assert missing.status_code == 404 and missing.json()["code"] == "sla_calendar_not_found"
    outside = await client.get("/sla-calendars/CN", params={"year": cn["years"][-1] + 1})
    assert outside.status_code == 422 and outside.json()["code"] == "calendar_out_of_range"
    bad = await client.post(
        "/sla-policies",
        json={"name": "x", "severity": "low", "first_response_minutes": 5, "resolution_minutes": 9,
              "calendar": {**CN_CALENDAR, "official": "XX"}},
    )  # fmt: skip
    assert bad.status_code == 422
