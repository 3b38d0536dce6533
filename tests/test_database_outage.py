"""A database outage under a running service: 503 `database_unavailable` with Retry-After for every
request while PostgreSQL is down (never 500), and normal answers again once it is back."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest

from crm_chassis.testing import internal_headers
from tests.e2e_system import ROOT, free_port
from tests.scratch_postgres import ScratchCluster

SECRET = "outage-test-internal-secret-0123456789abcdef"
pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ScratchCluster]:
    scratch = ScratchCluster(tmp_path_factory.mktemp("outage"))
    try:
        yield scratch
    finally:
        scratch.drop()


@pytest.fixture(scope="module")
def customer_service(cluster: ScratchCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    tmp = tmp_path_factory.mktemp("outage-service")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRM_")}
    env.update(
        CRM_CUSTOMER_DATABASE_URL=cluster.url,
        CRM_INTERNAL_SECRET=SECRET,
        CRM_DATA_DIR=str(tmp),
        CRM_HTTP_GRACEFUL_SECONDS="2",
    )
    alembic = [sys.executable, "-m", "alembic", "-c", str(ROOT / "services/customer/alembic.ini"), "upgrade", "head"]
    subprocess.run(alembic, env=env, check=True, capture_output=True)
    log = (tmp / "service.log").open("w")
    command = [sys.executable, "-m", "crm_chassis.serve", "crm_customer.main:create_app", "--port", str(port)]
    process = subprocess.Popen(command, env=env, stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert process.poll() is None and time.monotonic() < deadline, (tmp / "service.log").read_text()
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def test_an_outage_answers_503_and_the_service_recovers(cluster: ScratchCluster, customer_service: str) -> None:
    headers = internal_headers(secret=SECRET)
    with httpx.Client(base_url=customer_service, headers=headers, timeout=30) as client:
        created = client.post("/customers", json={"kind": "individual", "name": "Before"})
        assert created.status_code == 201, created.text
        customer_id = created.json()["id"]
        assert client.get(f"/customers/{customer_id}").status_code == 200

        cluster.stop()
        try:
            calls = [
                ("GET", "/customers", None, {}),
                ("GET", f"/customers/{customer_id}", None, {}),
                ("POST", "/customers", {"kind": "individual", "name": "During"}, {}),
                ("POST", "/customers", {"kind": "individual", "name": "During"}, {"Idempotency-Key": "outage-1"}),
                ("PATCH", f"/customers/{customer_id}", {"name": "Changed"}, {"If-Match": '"1"'}),
                ("GET", "/orders", None, {}),
                ("GET", "/readyz", None, {}),
            ]
            answers = []
            for _ in range(3):  # the pool's connections first, then new connections that are refused
                for method, path, body, extra in calls:
                    response = client.request(method, path, json=body, headers=extra)
                    answers.append((method, path, response))
            assert [(m, p, r.status_code) for m, p, r in answers] == [(m, p, 503) for m, p, _ in answers]
            for _, path, response in answers:
                assert response.headers["content-type"] == "application/problem+json"
                assert int(response.headers["retry-after"]) > 0
                if path != "/readyz":
                    assert response.json()["code"] == "database_unavailable"
                    assert response.json()["request_id"] == response.headers["x-request-id"]
        finally:
            cluster.start()

        deadline = time.monotonic() + 30
        while client.get(f"/customers/{customer_id}").status_code != 200:
            assert time.monotonic() < deadline, "the service did not recover after the database came back"
            time.sleep(0.2)
        after = client.post("/customers", json={"kind": "individual", "name": "After"})
        assert after.status_code == 201, after.text
        names = {c["name"] for c in client.get("/customers").json()["items"]}
        assert names == {"Before", "After"}  # nothing written while the database was down
