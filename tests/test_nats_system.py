"""The real processes on PostgreSQL with events over NATS JetStream (CRM_EVENT_TRANSPORT=nats).

Needs CRM_TEST_POSTGRES_URL and a JetStream server (CRM_TEST_NATS_URL, default
nats://127.0.0.1:4222); on CI neither may be missing.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from e2e_system import ROOT, System, free_port, poll, token
from pg_nats import nats_namespace, scratch_postgres, sql, system_env

from crm_chassis.testing import internal_headers

pytestmark = pytest.mark.e2e
SECRET = "nats-system-test-internal-secret-0123456789"


def test_an_order_and_a_complaint_travel_over_nats(tmp_path: Path) -> None:
    with scratch_postgres("natssys") as database, nats_namespace() as namespace:
        system = System(tmp_path, extra_env=system_env(database, namespace))
        try:
            with httpx.Client(base_url=system.url("gateway"), timeout=30) as client:
                bearer = {"Authorization": f"Bearer {token(client)}"}
                customer = client.post(
                    "/api/v1/customers", json={"kind": "individual", "name": "Over Nats"}, headers=bearer
                ).json()
                cid = customer["id"]
                order = {
                    "customer_id": cid,
                    "occurred_at": "2026-11-01T10:00:00Z",
                    "amount": "88.00",
                    "currency": "CNY",
                }
                assert client.post("/api/v1/orders", json=order, headers=bearer).status_code == 201
                # customer → feedback: the complaint is accepted once customer.created has arrived
                complaint = {
                    "customer_id": cid,
                    "category": "product_quality",
                    "severity": "high",
                    "channel": "phone",
                    "description": "arrived broken",
                }
                opened = poll(
                    lambda: (
                        (r := client.post("/api/v1/complaints", json=complaint, headers=bearer)).status_code == 201
                        and r
                    ),
                    30,
                )
                assert opened, "customer.created never reached the feedback service over NATS"

                # customer → scoring (the order) and feedback → scoring (the complaint)
                def card() -> dict | None:  # type: ignore[type-arg]
                    response = client.get(f"/api/v1/customers/{cid}/scores", headers=bearer)
                    body = response.json() if response.status_code == 200 else None
                    ready = body and body["purchases"]["total_spend"] == "88.00"
                    return body if ready and body["satisfaction"]["open_complaints"] == 1 else None

                assert poll(card, 30), "the order and the complaint never both reached the score card"

            def counts() -> list:  # type: ignore[type-arg]
                return sql(
                    database,
                    "SELECT consumer, count(*) FROM scoring.consumed_event GROUP BY consumer ORDER BY consumer",
                    "SELECT count(*) FROM customer.outbox_event",
                    "SELECT relay, last_seq FROM customer.relay_cursor",
                )

            # every customer event goes through JetStream: the relay publishes them, scoring applies
            # them. The customer service goes on writing after the card is ready (the lifecycle rule
            # answers the order with customer.updated), so wait for the stream to settle.
            rows = poll(lambda: (r := counts()) and dict(r[0]).get("customer-events") == r[1][0][0] and r, 30)
            rows = rows or counts()
            assert dict(rows[0])["customer-events"] == rows[1][0][0]
            assert rows[2] == [(f"customer-{namespace}", rows[1][0][0])]
        finally:
            assert system.stop() == 0
        log = (tmp_path / "system.log").read_text()
        assert '"level": "error"' not in log, log


class Process:
    """One service process started as the images start it, with a log file of its own."""

    def __init__(self, factory: str, port: int, env: dict[str, str], log: Path) -> None:
        self.port, self.log_path = port, log
        self.log = log.open("a")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "crm_chassis.serve", factory, "--port", str(port)],
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 180  # slow on a loaded machine
        while time.monotonic() < deadline:
            assert self.process.poll() is None, log.read_text()
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"{factory} did not start:\n{log.read_text()}")

    def logged(self, text: str) -> bool:
        return text in self.log_path.read_text()

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


@pytest.fixture
def processes() -> Iterator[list[Process]]:
    started: list[Process] = []
    yield started
    for process in reversed(started):
        process.stop()


def migrate(env: dict[str, str]) -> None:
    for ini in ("services/customer/alembic.ini", "services/scoring/alembic.ini"):
        subprocess.run([sys.executable, "-m", "alembic", "-c", str(ROOT / ini), "upgrade", "head"], env=env, check=True)


def test_kill_9_of_the_scoring_leader_mid_stream_loses_nothing_and_applies_nothing_twice(
    tmp_path: Path, processes: list[Process]
) -> None:
    """Two scoring processes share the work through the lease: the leader applies the stream, the
    other stands by. The leader dies by SIGKILL while 300 orders stream in; the other takes over
    and, with the restarted one standing by, every order reaches the score cards exactly once."""
    with scratch_postgres("natskill") as database, nats_namespace() as namespace:
        base = {k: v for k, v in os.environ.items() if not k.startswith("CRM_")}
        env = base | system_env(database, namespace, CRM_INTERNAL_SECRET=SECRET, CRM_DATA_DIR=str(tmp_path))
        migrate(env)
        customer_port, scoring_ports = free_port(), (free_port(), free_port())
        env["CRM_SCORING_CUSTOMER_URL"] = f"http://127.0.0.1:{customer_port}"
        customer = Process("crm_customer.main:create_app", customer_port, env, tmp_path / "customer.log")
        processes.append(customer)
        first = Process("crm_scoring.main:create_app", scoring_ports[0], env, tmp_path / "scoring-a.log")
        processes.append(first)
        assert poll(lambda: first.logged("lease taken"), 10)
        second = Process("crm_scoring.main:create_app", scoring_ports[1], env, tmp_path / "scoring-b.log")
        processes.append(second)
        assert poll(lambda: second.logged("standing by"), 10), (tmp_path / "scoring-b.log").read_text()

        headers = internal_headers(secret=SECRET)
        api = httpx.Client(base_url=f"http://127.0.0.1:{customer_port}", headers=headers, timeout=30)
        ids = [api.post("/customers", json={"kind": "individual", "name": f"K{i}"}).json()["id"] for i in range(30)]
        start = datetime(2026, 1, 1, 9, tzinfo=UTC)
        sent: dict[str, list[Decimal]] = {cid: [] for cid in ids}
        order_ids: list[str] = []

        def stream_orders() -> None:
            for n in range(300):
                cid = ids[n % 30]
                amount = Decimal(100 + n) / 100
                day = start + timedelta(days=n // 30)  # each of a customer's orders on a day of its own
                body = {"customer_id": cid, "occurred_at": day.isoformat(), "amount": str(amount), "currency": "CNY"}
                response = api.post("/orders", json=body)
                assert response.status_code == 201, response.text
                order_ids.append(response.json()["id"])
                sent[cid].append(amount)
                time.sleep(0.01)

        streamer = threading.Thread(target=stream_orders, daemon=True)
        streamer.start()

        def applied() -> int:
            return int(sql(database, "SELECT count(*) FROM scoring.order_fact")[0][0][0])  # type: ignore[call-overload]

        assert poll(lambda: applied() >= 60, 60), "the leader never got going"
        first.process.send_signal(signal.SIGKILL)
        first.process.wait()
        killed_at = applied()
        assert killed_at < 300, "the stream had already been applied whole before the kill"
        assert poll(lambda: second.logged("lease taken"), 20), "the standby never took over"
        restarted = Process("crm_scoring.main:create_app", scoring_ports[0], env, tmp_path / "scoring-a2.log")
        processes.append(restarted)
        streamer.join()
        assert poll(lambda: applied() == 300, 90), f"only {applied()} of 300 orders reached scoring"
        assert poll(lambda: restarted.logged("standing by"), 10)

        outbox, consumed, dead, orders = sql(
            database,
            "SELECT id FROM customer.outbox_event",
            "SELECT event_id FROM scoring.consumed_event WHERE consumer = 'customer-events'",
            "SELECT count(*) FROM scoring.dead_letter",
            "SELECT id FROM scoring.order_fact",
        )
        assert sorted(r[0] for r in consumed) == sorted(r[0] for r in outbox)  # every event, each once
        assert dead == [(0,)]
        assert sorted(str(r[0]) for r in orders) == sorted(order_ids)

        # each card holds each order once: a second application would double a day's spend
        def cards_match() -> bool:
            for cid, amounts in sent.items():
                card = httpx.get(
                    f"http://127.0.0.1:{scoring_ports[1]}/customers/{cid}/scores", headers=headers, timeout=10
                )
                if card.status_code != 200:
                    return False
                purchases = card.json()["purchases"]
                if (purchases["purchase_days"], Decimal(purchases["total_spend"])) != (len(amounts), sum(amounts)):
                    return False
            return True

        assert poll(cards_match, 30)
        api.close()
