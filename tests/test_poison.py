"""One bad item stops no one: every kind of item the workers consume, poisoned, is parked, and every
other customer keeps being scored (the four real processes on PostgreSQL, the feed transport).

The poison is put where no input validation can stop it: straight into the producers' outboxes,
as a producer with a bug (or an old release) would have written it. One poisoned event per type
that a consumer handles, plus a well-formed order dated 0001-01-01 that the re-scoring worker
cannot score.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Mapping
from typing import Any

import httpx
import pytest
from e2e_system import System, poll, token
from pg_nats import scratch_postgres, sql

from crm_feedback.config import Settings as FeedbackSettings
from crm_feedback.readmodel.handlers import HANDLERS as FEEDBACK_CUSTOMER_HANDLERS
from crm_feedback.surveys.exits import scoring_handlers
from crm_scoring.readmodel.feedback import FEEDBACK_HANDLERS as SCORING_FEEDBACK_HANDLERS
from crm_scoring.readmodel.handlers import HANDLERS as SCORING_CUSTOMER_HANDLERS

pytestmark = pytest.mark.e2e
GARBAGE = {"id": "not-an-id", "customer_id": "not-an-id", "survivor_id": 7, "duplicate_id": [], "amount": "lots"}


@pytest.fixture(scope="module")
def database() -> Iterator[str]:
    with scratch_postgres("poison") as url:
        yield url


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory, database: str) -> Iterator[System]:
    env = {f"CRM_{name.upper()}_DATABASE_URL": database for name in ("customer", "scoring", "feedback", "gateway")}
    running = System(tmp_path_factory.mktemp("poison"), extra_env=env)
    try:
        yield running
    finally:
        if running.process.poll() is None:
            running.stop()


def inject(database: str, producer: str, type: str, data: dict[str, Any], aggregate_id: str = "not-an-id") -> str:
    """An outbox row written behind the service's back; its event id."""
    event_id = str(uuid.uuid4())
    payload = json.dumps(data).replace("'", "''")
    sql(
        database,
        f"INSERT INTO {producer}.outbox_event (id, type, aggregate_id, version, occurred_at, data) "
        f"VALUES ('{event_id}', '{type}', '{aggregate_id}', 1, now(), '{payload}'::jsonb)",
    )
    return event_id


def parked(client: httpx.Client, bearer: dict[str, str], service: str) -> dict[tuple[str, str], dict[str, Any]]:
    response = client.get(f"/api/v1/admin/dead-letters/{service}", params={"limit": 200}, headers=bearer)
    assert response.status_code == 200, response.text
    return {(d["consumer"], d["event_id"]): d for d in response.json()["items"]}


def test_poison_of_every_kind_is_parked_and_everyone_else_keeps_being_scored(system: System, database: str) -> None:
    with httpx.Client(base_url=system.url("gateway"), timeout=30) as client:
        bearer = {"Authorization": f"Bearer {token(client)}"}

        def new_customer(name: str) -> str:
            body = {"kind": "individual", "name": name}
            return str(client.post("/api/v1/customers", json=body, headers=bearer).json()["id"])

        def order(cid: str, amount: str, day: str) -> None:
            body = {"customer_id": cid, "occurred_at": f"{day}T10:00:00Z", "amount": amount, "currency": "CNY"}
            assert client.post("/api/v1/orders", json=body, headers=bearer).status_code == 201

        def spend(cid: str) -> str | None:
            response = client.get(f"/api/v1/customers/{cid}/scores", headers=bearer)
            return response.json()["purchases"]["total_spend"] if response.status_code == 200 else None

        victim, first, second = new_customer("Victim"), new_customer("First"), new_customer("Second")
        order(first, "10.00", "2026-10-01")
        assert poll(lambda: spend(first) == "10.00", 20)

        expected: dict[str, set[tuple[str, str]]] = {"scoring": set(), "feedback": set()}

        def poison(producer: str, handlers: dict[str, Mapping[str, Any]]) -> None:
            types = sorted({t for by_type in handlers.values() for t in by_type})
            for type in types:
                event_id = inject(database, producer, type, GARBAGE)
                for service, by_type in handlers.items():
                    if type in by_type:
                        expected[service].add((f"{producer}-events", event_id))

        poison("customer", {"scoring": SCORING_CUSTOMER_HANDLERS, "feedback": FEEDBACK_CUSTOMER_HANDLERS})
        poison("feedback", {"scoring": SCORING_FEEDBACK_HANDLERS})
        poison("scoring", {"feedback": scoring_handlers(FeedbackSettings())})
        # well-formed, so scoring records it; but no one can be scored on a purchase in year 1
        ancient = {
            "id": str(uuid.uuid4()),
            "customer_id": victim,
            "occurred_at": "0001-01-01T00:00:00Z",
            "amount": "5.00",
            "currency": "CNY",
        }
        inject(database, "customer", "order.recorded", ancient, aggregate_id=ancient["id"])
        expected["scoring"].add(("rescore", victim))

        # the others go on: new orders after the poison reach their cards
        order(first, "15.00", "2026-10-02")
        order(second, "20.00", "2026-10-03")
        assert poll(lambda: spend(first) == "25.00" and spend(second) == "20.00", 60), (
            f"first: {spend(first)}, second: {spend(second)}"
        )

        for service, keys in expected.items():
            assert poll(lambda s=service, k=keys: k <= set(parked(client, bearer, s)), 60), (
                f"{service} parked {sorted(set(parked(client, bearer, service)))}, expected {sorted(keys)}"
            )
            letters = parked(client, bearer, service)
            assert set(letters) == keys  # nothing else was parked
            for letter in letters.values():
                assert letter["attempts"] == 3 and letter["error"], letter

        # still going after everything was parked
        order(second, "1.50", "2026-10-04")
        assert poll(lambda: spend(second) == "21.50", 20)

        metrics = httpx.get(f"{system.url('scoring')}/metrics").text
        by_consumer: dict[str, int] = {}
        for consumer, _ in expected["scoring"]:
            by_consumer[consumer] = by_consumer.get(consumer, 0) + 1
        for consumer, count in by_consumer.items():
            assert f'crm_dead_letters_total{{consumer="{consumer}"}} {float(count)}' in metrics, metrics

        # an admin's retry of a poison fails again (one more attempt); a discard removes it
        consumer, event_id = sorted(k for k in expected["scoring"] if k[0] == "customer-events")[0]
        retried = client.post(f"/api/v1/admin/dead-letters/scoring/{consumer}/{event_id}/retry", headers=bearer)
        assert retried.status_code == 409 and retried.json()["code"] == "retry_failed", retried.text
        assert parked(client, bearer, "scoring")[(consumer, event_id)]["attempts"] == 4
        gone = client.post(f"/api/v1/admin/dead-letters/scoring/{consumer}/{event_id}/discard", headers=bearer)
        assert gone.status_code == 204
        assert (consumer, event_id) not in parked(client, bearer, "scoring")
        again = client.post(f"/api/v1/admin/dead-letters/scoring/{consumer}/{event_id}/discard", headers=bearer)
        assert again.status_code == 404
