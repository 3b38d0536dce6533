"""The measures on hand-computed samples: pure functions first, then through the analytics API."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import httpx
import pytest
from feedback_helpers import create_complaint, make_customer
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_feedback.analytics import metrics
from crm_feedback.complaints.models import Complaint
from crm_feedback.surveys.models import SurveyInvitation

Db = async_sessionmaker[AsyncSession]


def at(month: int, day: int, hour: int = 0, minute: int = 0, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def test_nps() -> None:
    assert metrics.nps([10, 9, 8, 7, 6, 0])["score"] == 0.0
    assert metrics.nps([10, 10, 9, 3]) == {"score": 50.0, "promoters": 3, "passives": 0, "detractors": 1, "n": 4}
    assert metrics.nps([6, 6, 7])["score"] == pytest.approx(-66.67)
    assert metrics.nps([])["score"] is None


def test_csat_and_satisfaction_index() -> None:
    assert metrics.csat([5, 4, 3, 2, 1])["score"] == 40.0
    assert metrics.csat([4.5, 3.5])["score"] == 50.0
    index = metrics.satisfaction_index([1.25, 0.8, 1.0])
    assert index["index"] == pytest.approx(1.0167, abs=1e-4) and index["dissatisfied"] == 1


def test_percentiles_and_buckets() -> None:
    assert metrics.percentile([40, 10, 30, 20], 0.5) == 25
    assert metrics.percentile([10, 20, 30, 40], 0.9) == pytest.approx(37)
    assert metrics.percentile([], 0.5) is None
    months = metrics.buckets(at(11, 15), at(1, 2, year=2027), "month")
    assert [b[0] for b in months] == [at(11, 1), at(12, 1), at(1, 1, year=2027)]
    weeks = metrics.buckets(at(11, 26), at(12, 1), "week")  # a Thursday: its week began Monday 23rd
    assert weeks == [(at(11, 23), at(11, 30)), (at(11, 30), at(12, 7))]


async def _respond(
    client: httpx.AsyncClient, survey_id: str, when: datetime, answers: dict[str, object], **who: str
) -> None:
    response = await client.post(
        f"/surveys/{survey_id}/responses",
        json={"channel": "phone", "answers": answers, "responded_at": when.isoformat(), **who},
    )
    assert response.status_code == 201, response.text


async def test_satisfaction_trend_report_and_customer_view(client: httpx.AsyncClient, db: Db) -> None:
    a, b = await make_customer(db), await make_customer(db)
    questions = [
        {"key": "recommend", "type": "nps", "text": "Recommend us?"},
        {"key": "overall", "type": "rating", "text": "Overall"},
        {"key": "speed", "type": "expectation_perception", "text": "Speed"},
    ]
    survey = (
        await client.post("/surveys", json={"title": "Q4", "kind": "satisfaction", "questions": questions})
    ).json()
    sid = survey["id"]
    phone = (
        await client.post(f"/surveys/{sid}/invitations", json={"customer_ids": [str(a), str(b)], "channel": "phone"})
    ).json()
    await client.post(f"/surveys/{sid}/invitations", json={"customer_ids": [str(a)], "channel": "online"})
    # Invitations are stamped with the real clock; pin them inside the asserted window so the
    # test means the same on any date.
    async with db() as session, session.begin():
        await session.execute(
            update(SurveyInvitation).where(SurveyInvitation.survey_id == uuid.UUID(sid)).values(created_at=at(10, 1))
        )

    def ep(e: int, p: int) -> dict[str, int]:
        return {"expectation": e, "perception": p}

    await _respond(
        client,
        sid,
        at(10, 5),
        {"recommend": 10, "overall": 5, "speed": ep(4, 5)},
        invitation_id=phone["items"][0]["id"],
    )
    await _respond(client, sid, at(10, 20), {"recommend": 6, "overall": 3, "speed": ep(5, 4)}, customer_id=str(a))
    await _respond(client, sid, at(11, 3), {"recommend": 9, "overall": 4, "speed": ep(2, 2)}, customer_id=str(b))
    await _respond(client, sid, at(11, 10), {"recommend": 8, "overall": 2, "speed": ep(5, 2)}, customer_id=str(b))
    for category in ("delivery", "delivery"):
        await create_complaint(client, a, category=category)
    await create_complaint(client, b, category="billing")

    trend = (
        await client.get(
            "/analytics/satisfaction", params={"from": "2026-10-01T00:00:00Z", "to": "2026-12-01T00:00:00Z"}
        )
    ).json()
    oct_, nov = trend["buckets"]
    assert (oct_["nps"]["score"], oct_["csat"]["score"], oct_["satisfaction_index"]["index"]) == (0.0, 50.0, 1.025)
    assert (nov["nps"]["score"], nov["csat"]["score"], nov["satisfaction_index"]["index"]) == (50.0, 50.0, 0.7)
    overall = trend["overall"]
    assert (overall["nps"]["score"], overall["csat"]["score"], overall["satisfaction_index"]["index"]) == (
        25.0,
        50.0,
        0.8625,
    )
    rates = {r["channel"]: (r["invited"], r["responded"], r["rate"]) for r in trend["response_rate_by_channel"]}
    assert rates == {"online": (1, 0, 0.0), "phone": (2, 1, 0.5)}
    weekly = (
        await client.get(
            "/analytics/satisfaction",
            params={"from": "2026-11-02T00:00:00Z", "to": "2026-11-16T00:00:00Z", "interval": "week"},
        )
    ).json()
    assert [w["responses"] for w in weekly["buckets"]] == [1, 1]
    bad = await client.get(
        "/analytics/satisfaction", params={"from": "2026-12-01T00:00:00Z", "to": "2026-10-01T00:00:00Z"}
    )
    assert bad.status_code == 422

    mine = (await client.get(f"/analytics/satisfaction/customers/{a}")).json()
    assert mine["responses"] == 2 and mine["nps"]["score"] == 0.0
    assert mine["latest"]["scores"] == {"nps": 6, "csat": 3.0, "satisfaction_index": 0.8}
    assert {r["channel"]: r["rate"] for r in mine["response_rate_by_channel"]} == {"online": 0.0, "phone": 1.0}

    report = (await client.get(f"/surveys/{sid}/report")).json()
    assert report["method"]["sample_size"] == 3 and report["method"]["responses"] == 4
    assert report["method"]["response_rate"] == pytest.approx(0.3333)
    recommend, overall_q, speed = report["results"]["questions"]
    assert recommend["distribution"] == [0, 0, 0, 0, 0, 0, 1, 0, 1, 1, 1]
    assert overall_q["mean"] == 3.5 and overall_q["csat"]["score"] == 50.0
    assert (speed["expectation_mean"], speed["perception_mean"]) == (4.0, 3.25)
    assert speed["satisfaction_index"]["index"] == 0.8625
    conclusions = report["conclusions"]
    assert [w["key"] for w in conclusions["weakest_questions"]] == ["speed", "overall"]
    assert conclusions["complaint_categories"] == [
        {"category": "delivery", "complaints": 2},
        {"category": "billing", "complaints": 1},
    ]
    assert any("delivery" in m for m in conclusions["countermeasures"])

    html = await client.get(f"/surveys/{sid}/report", params={"format": "html"})
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
    page = html.text
    for heading in ("Background and purpose", "Method", "Analysis and results", "Conclusions and countermeasures"):
        assert heading in page
    assert page.count("<svg") >= 3
    assert "src=" not in page and "<link" not in page and "<script" not in page


async def test_complaint_analytics(client: httpx.AsyncClient, customer_id: uuid.UUID, db: Db) -> None:
    rows = [
        # category, channel, severity, status, opened, responded, resolved, first due, resolution due
        (
            "delivery",
            "phone",
            "high",
            "resolved",
            at(11, 2),
            at(11, 2, 0, 30),
            at(11, 2, 10),
            at(11, 2, 1),
            at(11, 2, 8),
        ),
        ("delivery", "email", "low", "resolved", at(11, 3), at(11, 3, 1, 30), at(11, 4), at(11, 3, 1), at(11, 5)),
        (
            "billing",
            "phone",
            "medium",
            "in_progress",
            at(11, 4),
            at(11, 4, 0, 10),
            None,
            at(11, 4, 1),
            at(1, 1, year=2030),
        ),
        ("billing", "phone", "critical", "open", at(11, 5), None, None, None, None),
    ]
    for category, channel, severity, status, opened, responded, resolved, first_due, resolution_due in rows:
        created = await create_complaint(
            client, customer_id, category=category, channel=channel, severity=severity, opened_at=opened.isoformat()
        )
        async with db.begin() as session:
            await session.execute(
                update(Complaint)
                .where(Complaint.id == uuid.UUID(created["id"]))
                .values(
                    status=status,
                    first_responded_at=responded,
                    resolved_at=resolved,
                    paused_since=resolved,
                    first_response_due_at=first_due,
                    resolution_due_at=resolution_due,
                )
            )
    report = (
        await client.get("/analytics/complaints", params={"from": "2026-11-01T00:00:00Z", "to": "2026-12-01T00:00:00Z"})
    ).json()
    overall = report["overall"]
    assert (overall["opened"], overall["resolved"]) == (4, 2)
    assert overall["breach_rate"] == {"first_response": 0.3333, "resolution": 0.5, "overall": 0.4}
    assert overall["time_to_first_response"] == {"median_minutes": 30.0, "p90_minutes": 78.0, "n": 3}
    assert overall["time_to_resolution"] == {"median_minutes": 1020.0, "p90_minutes": 1356.0, "n": 2}
    by_category = {c["key"]: c for c in report["by_category"]}
    assert by_category["delivery"]["breach_rate"]["resolution"] == 0.5
    assert by_category["billing"]["breach_rate"]["first_response"] == 0.0
    assert by_category["billing"]["breach_rate"]["resolution"] is None
    assert {c["key"]: c["opened"] for c in report["by_channel"]} == {"email": 1, "phone": 3}
    backlog = report["open_by_age_and_severity"]
    assert backlog["medium"]["over_7d"] == 1 and backlog["critical"]["over_7d"] == 1
    assert sum(sum(bands.values()) for bands in backlog.values()) == 2
    assert len(report["over_time"]) == 1 and report["over_time"][0]["opened"] == 4
