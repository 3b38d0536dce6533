"""customer.* events travel from the customer service's outbox into scoring's and feedback's read models."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from crm_chassis.consumer import EventConsumer, HttpFeedSource
from crm_chassis.testing import BACKENDS, internal_headers, migrate, scratch_database
from crm_customer.config import Settings as CustomerSettings
from crm_customer.main import create_app as create_customer
from crm_feedback.config import Settings as FeedbackSettings
from crm_feedback.db import infra as feedback_infra
from crm_feedback.main import create_app as create_feedback
from crm_feedback.readmodel.handlers import HANDLERS as FEEDBACK_HANDLERS
from crm_feedback.readmodel.models import CustomerRef as FeedbackRef
from crm_scoring.config import Settings as ScoringSettings
from crm_scoring.db import infra as scoring_infra
from crm_scoring.main import create_app as create_scoring
from crm_scoring.readmodel.handlers import HANDLERS as SCORING_HANDLERS
from crm_scoring.readmodel.models import CustomerRef as ScoringRef

ROOT = Path(__file__).parents[1]


@pytest.fixture(scope="module", params=BACKENDS)
async def apps(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[dict[str, FastAPI]]:
    tmp = tmp_path_factory.mktemp("flow")
    async with (
        scratch_database(request.param, tmp, "flowcustomer") as customer_url,
        scratch_database(request.param, tmp, "flowscoring") as scoring_url,
        scratch_database(request.param, tmp, "flowfeedback") as feedback_url,
    ):
        await migrate(ROOT / "services/customer/alembic.ini", customer_url)
        await migrate(ROOT / "services/scoring/alembic.ini", scoring_url)
        await migrate(ROOT / "services/feedback/alembic.ini", feedback_url)
        apps = {
            "customer": create_customer(CustomerSettings(database_url=customer_url, consume_events=False)),
            "scoring": create_scoring(ScoringSettings(database_url=scoring_url, consume_events=False)),
            "feedback": create_feedback(FeedbackSettings(database_url=feedback_url, consume_events=False)),
        }
        async with (
            apps["customer"].router.lifespan_context(apps["customer"]),
            apps["scoring"].router.lifespan_context(apps["scoring"]),
            apps["feedback"].router.lifespan_context(apps["feedback"]),
        ):
            yield apps


@pytest.fixture
async def customer_client(apps: dict[str, FastAPI]) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=apps["customer"])
    async with httpx.AsyncClient(transport=transport, base_url="http://customer", headers=internal_headers()) as c:
        yield c


def consumer_for(apps: dict[str, FastAPI], client: httpx.AsyncClient, which: str) -> EventConsumer:
    tables, handlers = (scoring_infra, SCORING_HANDLERS) if which == "scoring" else (feedback_infra, FEEDBACK_HANDLERS)
    source = HttpFeedSource(client, "http://customer", lambda: internal_headers(role="service")["X-Internal-Token"])
    return EventConsumer(
        name="customer-events",
        source=source,
        sessionmaker=apps[which].state.sessionmaker,
        tables=tables,
        handlers=handlers,
    )


async def read_ref(app: FastAPI, model: Any, customer_id: str) -> Any:
    async with app.state.sessionmaker() as session:
        return await session.get(model, uuid.UUID(customer_id))


async def test_created_updated_deleted_reach_both_read_models(
    apps: dict[str, FastAPI], customer_client: httpx.AsyncClient
) -> None:
    owner = str(uuid.uuid4())
    created = (
        # an account manager's own customer: their identity token vouches for them as owner
        await customer_client.post(
            "/customers",
            json={"kind": "organization", "name": "Acme", "owner_id": owner},
            headers=internal_headers(role="agent", subject=owner),
        )
    ).json()
    patched = await customer_client.patch(
        f"/customers/{created['id']}", json={"name": "Acme Ltd"}, headers={"If-Match": '"1"'}
    )
    assert patched.status_code == 200
    for which, model in (("scoring", ScoringRef), ("feedback", FeedbackRef)):
        consumer = consumer_for(apps, customer_client, which)
        while await consumer.poll_once(wait=0):
            pass
        ref = await read_ref(apps[which], model, created["id"])
        assert (ref.kind, ref.display_name, str(ref.owner_id), ref.version, ref.deleted) == (
            "organization",
            "Acme Ltd",
            owner,
            2,
            False,
        )
    await customer_client.delete(f"/customers/{created['id']}", headers={"If-Match": '"2"'})
    consumer = consumer_for(apps, customer_client, "scoring")
    await consumer.poll_once(wait=0)
    assert (await read_ref(apps["scoring"], ScoringRef, created["id"])).deleted is True


async def test_replayed_or_older_event_changes_nothing(
    apps: dict[str, FastAPI], customer_client: httpx.AsyncClient
) -> None:
    created = (await customer_client.post("/customers", json={"kind": "individual", "name": "First"})).json()
    await customer_client.patch(f"/customers/{created['id']}", json={"name": "Second"}, headers={"If-Match": '"1"'})
    feed = (await customer_client.get("/internal/events", params={"after": 0, "limit": 1000})).json()["items"]
    mine = [e for e in feed if e["aggregate_id"] == created["id"]]
    from crm_chassis.events import Event

    async with apps["scoring"].state.sessionmaker.begin() as session:
        for raw in [mine[1], mine[0], mine[1]]:  # newest, then an older one, then the newest again
            await SCORING_HANDLERS[raw["type"]](session, Event.model_validate(raw))
    ref = await read_ref(apps["scoring"], ScoringRef, created["id"])
    assert (ref.display_name, ref.version) == ("Second", 2)


async def test_long_poll_returns_as_soon_as_an_event_commits(
    apps: dict[str, FastAPI], customer_client: httpx.AsyncClient
) -> None:
    last = (await customer_client.get("/internal/events", params={"after": 0, "limit": 1000})).json()["last_seq"]

    async def create_later() -> None:
        await asyncio.sleep(0.3)
        await customer_client.post("/customers", json={"kind": "individual", "name": "Late"})

    started = time.monotonic()
    task = asyncio.create_task(create_later())
    response = await customer_client.get("/internal/events", params={"after": last, "wait": 10})
    elapsed = time.monotonic() - started
    await task
    assert [e["data"]["name"] for e in response.json()["items"]] == ["Late"]
    assert elapsed < 5  # woken by the commit, not by the 10 s timeout
