"""Rate limits shared across gateway processes through Redis (CRM_REDIS_URL), against the real
Redis on 127.0.0.1:6379; without it each process counts alone. Also CRM_GATEWAY_WORKERS."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from crm_gateway.auth.ratelimit import SharedLimits

from .conftest import ADMIN_EMAIL, ADMIN_PASSWORD, INTERNAL_SECRET, JWT_SECRET

REDIS_URL = os.environ.get("CRM_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
LIMIT = 6


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _redis_reachable() -> bool:
    url = httpx.URL(REDIS_URL)
    try:
        with socket.create_connection((url.host, url.port or 6379), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture(autouse=True)
def _redis() -> None:
    if not _redis_reachable():
        if os.environ.get("CI") == "true":
            pytest.fail(f"Redis must run at {REDIS_URL} in CI")
        pytest.skip(f"no Redis at {REDIS_URL}")


@contextmanager
def gateway_process(database_url: str, log: Path, **env: str) -> Iterator[str]:
    """One gateway started as production starts it (`python -m crm_chassis.serve`)."""
    port = _free_port()
    environ = {k: v for k, v in os.environ.items() if not k.startswith("CRM_")}
    environ.update(
        CRM_GATEWAY_PORT=str(port),
        CRM_GATEWAY_DATABASE_URL=database_url,
        CRM_ENVIRONMENT="test",
        CRM_GATEWAY_JWT_SECRET=JWT_SECRET,
        CRM_INTERNAL_SECRET=INTERNAL_SECRET,
        CRM_BOOTSTRAP_ADMIN_EMAIL=ADMIN_EMAIL,
        CRM_BOOTSTRAP_ADMIN_PASSWORD=ADMIN_PASSWORD,
        CRM_GATEWAY_WEBHOOK_WORKERS="false",
        CRM_GATEWAY_LOGIN_MAX_FAILURES_PER_ADDRESS="10000",
        CRM_GATEWAY_RATE_LIMITS=json.dumps({"identity.admin": LIMIT}),
        CRM_LOG_LEVEL="INFO",
    )
    environ.update(env)
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "crm_chassis.serve", "crm_gateway.main:create_app"],
            env=environ,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 180  # a loaded 2-core machine starts workers slowly
            while True:
                try:
                    if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError("the gateway did not start:\n" + log.read_text())
                time.sleep(0.1)
            yield url
        finally:
            process.terminate()
            process.wait(timeout=30)


def _token(url: str) -> dict[str, str]:
    response = httpx.post(
        url + "/api/v1/auth/token", data={"username": ADMIN_EMAIL, "password": ADMIN_PASSWORD}, timeout=10
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def _alternate(urls: list[str], headers: dict[str, str], calls: int) -> list[httpx.Response]:
    """`calls` reads of the user list, round robin over the processes, each on a new connection."""
    return [httpx.get(urls[i % len(urls)] + "/api/v1/users", headers=headers, timeout=10) for i in range(calls)]


def test_two_gateway_processes_share_one_limit_in_redis(database_url: str, tmp_path: Path) -> None:
    # a prefix of this run's own, so that no other run's counts are seen
    shared = {"CRM_REDIS_URL": REDIS_URL, "CRM_GATEWAY_RATE_LIMIT_KEY_PREFIX": f"test-{uuid.uuid4().hex}"}
    with (
        gateway_process(database_url, tmp_path / "a.log", **shared) as a,
        gateway_process(database_url, tmp_path / "b.log", **shared) as b,
    ):
        headers = _token(a)
        answers = _alternate([a, b], headers, LIMIT + 4)

    statuses = [r.status_code for r in answers]
    assert statuses == [200] * LIMIT + [429] * 4, statuses
    # one budget: the remaining count goes down across both processes
    assert [r.headers["ratelimit-remaining"] for r in answers[:LIMIT]] == [str(n) for n in range(LIMIT - 1, -1, -1)]
    refused = answers[-1]
    assert refused.json()["code"] == "rate_limited"
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert '"rate_limits": "redis"' in (tmp_path / "a.log").read_text()


def test_without_redis_each_process_counts_alone(database_url: str, tmp_path: Path) -> None:
    """The default, and the reason for CRM_REDIS_URL: two processes allow twice the limit."""
    with (
        gateway_process(database_url, tmp_path / "a.log") as a,
        gateway_process(database_url, tmp_path / "b.log") as b,
    ):
        headers = _token(a)
        answers = _alternate([a, b], headers, 2 * LIMIT + 2)

    # Twice one budget passes (the buckets start full); the last two depend on how much the
    # buckets refilled meanwhile (LIMIT a minute), which a slow machine makes unpredictable.
    assert [r.status_code for r in answers[: 2 * LIMIT]] == [200] * (2 * LIMIT)


def test_several_workers_in_one_process_share_the_limit_in_redis(database_url: str, tmp_path: Path) -> None:
    """CRM_GATEWAY_WORKERS runs uvicorn workers; with Redis they count as one."""
    log = tmp_path / "workers.log"
    env = {
        "CRM_GATEWAY_WORKERS": "2",
        "CRM_REDIS_URL": REDIS_URL,
        "CRM_GATEWAY_RATE_LIMIT_KEY_PREFIX": f"test-{uuid.uuid4().hex}",
    }
    with gateway_process(database_url, log, **env) as url:
        headers = _token(url)
        answers = _alternate([url], headers, LIMIT + 3)

    assert [r.status_code for r in answers] == [200] * LIMIT + [429] * 3
    text = log.read_text()
    started = [line for line in text.splitlines() if '"msg": "started"' in line]
    assert len(started) >= 2, text  # each worker process ran the application's start-up


def test_several_workers_without_redis_warn_that_limits_are_per_worker(database_url: str, tmp_path: Path) -> None:
    log = tmp_path / "workers.log"
    with gateway_process(database_url, log, CRM_GATEWAY_WORKERS="2") as url:
        assert httpx.get(url + "/healthz", timeout=5).status_code == 200
    assert "counts rate limits on its own; set CRM_REDIS_URL" in log.read_text()


async def test_an_unreachable_redis_falls_back_to_the_process_buckets() -> None:
    """An outage of the store neither refuses every caller nor lifts the limit."""
    limiter = SharedLimits(f"redis://127.0.0.1:{_free_port()}/0", timeout=0.2)
    try:
        decisions = [await limiter.acquire("user:x", "customers.read", 2) for _ in range(3)]
    finally:
        await limiter.aclose()
    assert [d.allowed for d in decisions] == [True, True, False]
