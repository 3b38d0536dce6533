"""Dates a client sends to the feedback service are bounded as everywhere (crm_chassis.dates)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from feedback_helpers import count
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_feedback.complaints.models import Complaint
from crm_feedback.service_records.models import ServiceRecord

Db = async_sessionmaker[AsyncSession]


@pytest.mark.parametrize("opened_at", ["0001-01-01T00:00:00Z", "1899-12-31", "9999-12-31T00:00:00Z"])
async def test_complaints_opened_outside_the_calendar_are_refused(
    client: httpx.AsyncClient, customer_id: uuid.UUID, db: Db, opened_at: str
) -> None:
    body = {
        "customer_id": str(customer_id),
        "channel": "phone",
        "category": "delivery",
        "severity": "high",
        "description": "The parcel arrived broken.",
        "opened_at": opened_at,
    }
    response = await client.post("/complaints", json=body)
    assert response.status_code == 422, response.text
    assert "body.opened_at" in {e["field"] for e in response.json()["errors"]}
    assert await count(db, Complaint) == 0


async def test_a_complaint_opened_tomorrow_is_refused(client: httpx.AsyncClient, customer_id: uuid.UUID) -> None:
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    body = {"customer_id": str(customer_id), "channel": "phone", "category": "delivery", "severity": "high"}
    response = await client.post("/complaints", json={**body, "description": "x", "opened_at": tomorrow})
    assert response.status_code == 422


@pytest.mark.parametrize("service_date", ["0001-01-01", "1899-12-31"])
async def test_service_dates_before_1900_are_refused(
    client: httpx.AsyncClient, customer_id: uuid.UUID, db: Db, service_date: str
) -> None:
    body = {"customer_id": str(customer_id), "type": "repair", "service_date": service_date, "handler": "Wang"}
    response = await client.post("/service-records", json=body)
    assert response.status_code == 422, response.text
    assert await count(db, ServiceRecord) == 0
    assert (await client.get("/service-records", params={"date_from": "0001-01-01"})).status_code == 422
