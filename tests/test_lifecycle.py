"""Starting and stopping the four real processes is quiet: no warning storm while they come up,
and SIGTERM under load finishes what is in flight with no ERROR line and no 5xx."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from e2e_system import System, poll, token

pytestmark = pytest.mark.e2e


def log_lines(path: Path) -> list[dict[str, object]]:
    lines = []
    for raw in path.read_text().splitlines():
        if raw.startswith("{"):
            lines.append(json.loads(raw))
    return lines


@pytest.fixture
def system(tmp_path: Path) -> Iterator[System]:
    running = System(tmp_path, extra_env={"CRM_GATEWAY_WEBHOOK_FEED_WAIT_SECONDS": "5"})
    yield running
    running.kill()  # only if the test failed before its own stop


def test_quiet_start_and_sigterm_under_load(system: System, tmp_path: Path) -> None:
    log = tmp_path / "system.log"
    with httpx.Client(base_url=system.url("gateway"), timeout=30) as client:
        bearer = {"Authorization": f"Bearer {token(client)}"}
        customer = client.post("/api/v1/customers", json={"kind": "individual", "name": "Load"}, headers=bearer)
        cid = customer.json()["id"]
        # every consumer has found its feed
        assert poll(lambda: log.read_text().count("consumer following its feed") >= 7, 120), log.read_text()
    started = log_lines(log)
    warnings = [line for line in started if line["level"] in {"warning", "error", "critical"}]
    assert warnings == [], warnings
    waiting = Counter((line["service"], line.get("consumer")) for line in started if "consumer" in str(line["msg"]))
    assert all(count <= 2 for count in waiting.values()), waiting  # "waiting" once, "following" once

    statuses: list[int] = []
    stop = threading.Event()

    def load(n: int) -> None:
        with httpx.Client(base_url=system.url("gateway"), timeout=30) as c:
            i = 0
            while not stop.is_set():
                i += 1
                try:
                    if i % 3:
                        r = c.get("/api/v1/customers", params={"limit": 20}, headers=bearer)
                    else:
                        body = {
                            "customer_id": cid,
                            "occurred_at": "2026-10-01T10:00:00Z",
                            "amount": f"{n}.{i % 100:02d}",
                            "currency": "CNY",
                        }
                        r = c.post("/api/v1/orders", json=body, headers=bearer)
                    statuses.append(r.status_code)
                except httpx.TransportError:
                    time.sleep(0.05)  # the gateway has stopped taking connections

    # daemon threads, stopped in any case: a failed assertion must not leave them keeping pytest alive
    threads = [threading.Thread(target=load, args=(n,), daemon=True) for n in range(4)]
    for thread in threads:
        thread.start()
    try:
        assert poll(lambda: len(statuses) >= 100, 120), statuses
        code = system.stop()
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=60)

    assert code == 0, "\n".join(log.read_text().splitlines()[-60:])  # run_all names what it had to kill
    assert statuses and all(status < 500 for status in statuses), Counter(statuses)
    lines = log_lines(log)
    errors = [line for line in lines if line["level"] in {"error", "critical"}]
    assert errors == [], errors
    server_errors = [line for line in lines if int(str(line.get("status") or 0)) >= 500]
    assert server_errors == [], server_errors
    assert "Traceback" not in log.read_text()
