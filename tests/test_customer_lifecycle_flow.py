"""Scoring's results reach the customer record: orders go to scoring, its suggestions come back,
and the lifecycle moves by both (in-process, real services, on both databases)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from crm_chassis.consumer import EventConsumer, HttpFeedSource, OutboxSource
from crm_chassis.testing import BACKENDS, internal_headers, migrate, scratch_database
from crm_customer.config import Settings as CustomerSettings
from crm_customer.db import infra as customer_infra
from crm_customer.lifecycle.handlers import SCORE_HANDLERS, order_handlers
from crm_customer.main import create_app as create_customer
from crm_scoring.config import Settings as ScoringSettings
from crm_scoring.db import infra as scoring_infra
from crm_scoring.main import create_app as create_scoring
from crm_scoring.readmodel.handlers import HANDLERS as SCORING_HANDLERS
from crm_scoring.scores import service as score_service

ROOT = Path(__file__).parents[1]


@pytest.fixture(scope="module", params=BACKENDS)
async def apps(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[dict[str, FastAPI]]:
    tmp = tmp_path_factory.mktemp("lifecycleflow")
    async with (
        scratch_database(request.param, tmp, "lifecyclecustomer") as customer_url,
        scratch_database(request.param, tmp, "lifecyclescoring") as scoring_url,
    ):
        await migrate(ROOT / "services/customer/alembic.ini", customer_url)
        await migrate(ROOT / "services/scoring/alembic.ini", scoring_url)
        apps = {
            "customer": create_customer(CustomerSettings(database_url=customer_url, consume_events=False)),
            "scoring": create_scoring(
                ScoringSettings(database_url=scoring_url, consume_events=False, rescore_workers=False)
            ),
        }
        async with (
            apps["customer"].router.lifespan_context(apps["customer"]),
            apps["scoring"].router.lifespan_context(apps["scoring"]),
        ):
            yield apps


def _token() -> str:
    return internal_headers(role="service", kind="service", subject="service:test")["X-Internal-Token"]


async def test_orders_scored_come_back_as_suggestions(apps: dict[str, FastAPI]) -> None:
    customer_app, scoring_app = apps["customer"], apps["scoring"]
    async with (
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=customer_app), base_url="http://customer", headers=internal_headers()
        ) as customer,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=scoring_app), base_url="http://scoring") as scoring,
    ):
        consumers = [
            EventConsumer(  # scoring learns the customer and the orders
                name="customer-events",
                source=HttpFeedSource(customer, "http://customer", _token),
                sessionmaker=scoring_app.state.sessionmaker,
                tables=scoring_infra,
                handlers=SCORING_HANDLERS,
            ),
            EventConsumer(  # the customer service follows its own orders
                name="lifecycle",
                source=OutboxSource(
                    customer_app.state.sessionmaker, customer_infra.outbox, customer_app.state.outbox_signal
                ),
                sessionmaker=customer_app.state.sessionmaker,
                tables=customer_infra,
                handlers=order_handlers(365),
            ),
            EventConsumer(  # and scoring's suggestions
                name="scoring-events",
                source=HttpFeedSource(scoring, "http://scoring", _token),
                sessionmaker=customer_app.state.sessionmaker,
                tables=customer_infra,
                handlers=SCORE_HANDLERS,
            ),
        ]

        async def settle() -> None:
            for _ in range(5):
                for consumer in consumers[:2]:
                    while await consumer.poll_once(wait=0):
                        pass
                async with scoring_app.state.sessionmaker.begin() as session:
                    while await score_service.drain(session):
                        pass
                while await consumers[2].poll_once(wait=0):
                    pass

        created = await customer.post("/customers", json={"kind": "individual", "name": "Zhang Wei"})
        cid = created.json()["id"]
        now = datetime.now(UTC)
        for days_ago, amount in ((60, "120.00"), (20, "80.00")):
            body = {
                "customer_id": cid,
                "occurred_at": (now - timedelta(days=days_ago)).isoformat(),
                "amount": amount,
                "currency": "CNY",
                "external_ref": str(uuid.uuid4()),
            }
            assert (await customer.post("/orders", json=body)).status_code == 201
        await settle()

        record = (await customer.get(f"/customers/{cid}")).json()
        card = (await scoring.get(f"/customers/{cid}/scores", headers=internal_headers())).json()
        assert record["lifecycle_stage"] == "active"
        assert record["suggested_abc_class"] == card["abc_class"]["value"]
        assert record["suggested_loyalty_stage"] == card["loyalty_stage"]["value"]
        assert record["suggested_value_segment"] == card["value_segment"]["name"]
        assert record["suggested_at"] is not None
