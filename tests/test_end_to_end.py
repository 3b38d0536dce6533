"""The four real processes, started the way `make run` starts them, on free ports and SQLite files."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).parents[1]
ADMIN = ("e2e-admin@example.com", "e2e-admin-password-long-enough")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class System:
    def __init__(self, tmp: Path) -> None:
        self.ports = {name: free_port() for name in ("gateway", "customer", "scoring", "feedback")}
        self.data_dir = tmp
        env = {k: v for k, v in os.environ.items() if not k.startswith("CRM_")}
        env.update({f"CRM_{name.upper()}_PORT": str(port) for name, port in self.ports.items()})
        env.update(
            CRM_DATA_DIR=str(tmp),
            CRM_BOOTSTRAP_ADMIN_EMAIL=ADMIN[0],
            CRM_BOOTSTRAP_ADMIN_PASSWORD=ADMIN[1],
            CRM_SCORING_FEED_WAIT_SECONDS="5",
            CRM_FEEDBACK_FEED_WAIT_SECONDS="5",
        )
        self.log = (tmp / "system.log").open("w")
        self.process = subprocess.Popen(
            [sys.executable, str(ROOT / "scripts/run_all.py")],
            env=env,
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
        )
        self.banner = self._wait_for_banner()

    def _wait_for_banner(self) -> str:
        assert self.process.stdout is not None
        lines = []
        deadline = time.monotonic() + 90
        for line in self.process.stdout:
            lines.append(line)
            if "Press Ctrl-C to stop." in line:
                return "".join(lines)
            if time.monotonic() > deadline:
                break
        raise AssertionError(
            "the system did not start:\n" + "".join(lines) + (self.data_dir / "system.log").read_text()
        )

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=30)
        self.log.close()
        return code


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    running = System(tmp_path_factory.mktemp("e2e"))
    try:
        yield running
    finally:
        if running.process.poll() is None:
            running.stop()


def token(client: httpx.Client) -> str:
    response = client.post("/api/v1/auth/token", data={"username": ADMIN[0], "password": ADMIN[1]})
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def wait_for_row(db: Path, customer_id: str, timeout: float = 10) -> tuple[str, str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with sqlite3.connect(db) as conn:
            row = conn.execute(
                "SELECT display_name, kind FROM customer_ref WHERE id = ?", (customer_id.replace("-", ""),)
            ).fetchone()
        if row:
            return row[0], row[1]
        time.sleep(0.1)
    raise AssertionError(f"customer {customer_id} never reached {db.name}")


@pytest.mark.e2e
def test_token_create_read_and_events_reach_the_read_models(system: System) -> None:
    assert ADMIN[0] in system.banner and ADMIN[1] in system.banner
    with httpx.Client(base_url=system.url("gateway"), timeout=10) as client:
        bearer = {"Authorization": f"Bearer {token(client)}"}
        me = client.get("/api/v1/auth/me", headers=bearer)
        assert me.status_code == 200 and me.json()["email"] == ADMIN[0]

        created = client.post(
            "/api/v1/customers",
            json={"kind": "individual", "name": "李娜", "phone": "13800138000"},
            headers=bearer,
        )
        assert created.status_code == 201, created.text
        customer = created.json()
        assert created.headers["location"] == f"/api/v1/customers/{customer['id']}"
        read = client.get(f"/api/v1/customers/{customer['id']}", headers=bearer)
        assert read.status_code == 200
        assert read.json() == customer
        assert read.headers["x-request-id"]

    for service in ("scoring", "feedback"):
        assert wait_for_row(system.data_dir / f"{service}.db", customer["id"]) == ("李娜", "individual")


@pytest.mark.e2e
def test_the_doors_stay_shut(system: System) -> None:
    with httpx.Client(timeout=10) as client:
        anonymous = client.get(system.url("gateway") + "/api/v1/customers")
        assert anonymous.status_code == 401
        assert anonymous.headers["www-authenticate"].lower().startswith("bearer")
        assert anonymous.headers["content-type"] == "application/problem+json"
        direct = client.get(system.url("customer") + "/customers")
        assert direct.status_code == 401
        assert direct.json()["code"] == "missing_internal_token"
        spec = client.get(system.url("gateway") + "/api/v1/openapi.json")
        assert spec.status_code == 200
        assert "/api/v1/customers" in spec.json()["paths"]
        docs = client.get(system.url("gateway") + "/docs")
        assert docs.status_code == 200 and "cdn" not in docs.text.lower()


@pytest.mark.e2e
def test_an_order_through_the_gateway_reaches_the_score_card(system: System) -> None:
    with httpx.Client(base_url=system.url("gateway"), timeout=10) as client:
        bearer = {"Authorization": f"Bearer {token(client)}"}
        customer = client.post(
            "/api/v1/customers", json={"kind": "individual", "name": "Scored"}, headers=bearer
        ).json()
        order = {
            "customer_id": customer["id"],
            "occurred_at": "2026-11-20T10:00:00Z",
            "amount": "88.00",
            "currency": "CNY",
        }
        posted = client.post("/api/v1/orders", json=order, headers=bearer)
        assert posted.status_code == 201, posted.text
        started = time.monotonic()
        card = None
        while time.monotonic() - started < 10:
            response = client.get(f"/api/v1/customers/{customer['id']}/scores", headers=bearer)
            if response.status_code == 200 and "S/t×T = 88.00" in response.json()["clv"]["explanation"]:
                card = response.json()
                break
            time.sleep(0.05)
        elapsed = time.monotonic() - started
    assert card is not None, f"the order never reached the score card: {response.status_code} {response.text[:800]}"
    assert card["customer_id"] == customer["id"]
    # The target is 1 s; the bound leaves room for a loaded CI machine. The measured time is printed.
    print(f"order → score card: {elapsed:.3f} s")
    assert elapsed < 3


@pytest.mark.e2e
def test_sigterm_stops_all_four(system: System) -> None:
    assert system.stop() == 0
    for name in system.ports:
        with pytest.raises(httpx.ConnectError):
            httpx.get(system.url(name) + "/healthz", timeout=2)
