"""Clients nobody here wrote, against the real processes: generated clients and a real browser.

`openapi-python-client` must generate without a single warning, and its client must sign in,
create a customer, change it with If-Match, post an order, get a 422 back as a parsed problem and
read the score card. The TypeScript side (`clients/`) is type-checked by `tsc --strict`, and a
headless Chromium calls the gateway from a page on another origin (CORS) and opens the docs.
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
from e2e_system import ADMIN, ROOT, System, free_port, poll

pytestmark = pytest.mark.e2e
BIN = Path(sys.executable).parent
PACKAGE = "crm_api_client"


# Node and Chromium are installed by .ci/run; elsewhere the tests that need them say what is missing.
NEED_NODE = pytest.mark.skipif(
    shutil.which("npm") is None and os.environ.get("CI") != "true", reason="needs Node.js and npm (clients/)"
)
CHROMIUM = os.environ.get("CRM_TEST_CHROMIUM", "/usr/bin/chromium")
NEED_CHROMIUM = pytest.mark.skipif(
    not Path(CHROMIUM).exists() and os.environ.get("CI") != "true", reason=f"needs Chromium at {CHROMIUM}"
)
FRONTEND_PORT, STRANGER_PORT = free_port(), free_port()


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    cors = {"CRM_GATEWAY_CORS_ORIGINS": f"http://127.0.0.1:{FRONTEND_PORT}"}
    running = System(tmp_path_factory.mktemp("clients"), extra_env=cors)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def document_file(system: System, tmp_path_factory: pytest.TempPathFactory) -> Path:
    response = httpx.get(system.url("gateway") + "/api/v1/openapi.json", timeout=30)
    assert response.status_code == 200
    path = tmp_path_factory.mktemp("document") / "openapi.json"
    path.write_text(json.dumps(response.json()))
    return path


@pytest.fixture(scope="module")
def client_modules(document_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    out = tmp_path_factory.mktemp("pyclient")
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    command = [str(BIN / "openapi-python-client"), "generate", "--path", str(document_file)]
    command += ["--output-path", str(out / PACKAGE), "--meta", "none"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env, check=False)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    # The generator reports every schema or operation it had to drop; there must be none.
    assert not [line for line in output.splitlines() if line.strip() and not line.startswith("Generating ")], output
    sys.path.insert(0, str(out))
    try:
        yield str(out)
    finally:
        sys.path.remove(str(out))
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
            del sys.modules[name]


def load(name: str) -> ModuleType:
    return importlib.import_module(f"{PACKAGE}.{name}")


def test_the_generated_python_client_speaks_the_api(system: System, client_modules: str) -> None:
    client_mod, models = load("client"), load("models")
    issue_token = load("api.auth.issue_token")
    create_customer, update_customer = load("api.customers.create_customer"), load("api.customers.update_customer")
    record_order, read_score_card = load("api.orders.record_order"), load("api.scores.read_score_card")

    anonymous = client_mod.Client(base_url=system.url("gateway"), raise_on_unexpected_status=True)
    tokens = issue_token.sync(client=anonymous, body=models.IssueTokenBody(username=ADMIN[0], password=ADMIN[1]))
    assert isinstance(tokens, models.TokenResponse), tokens
    client = client_mod.AuthenticatedClient(
        base_url=system.url("gateway"), token=tokens.access_token, raise_on_unexpected_status=True
    )

    created = create_customer.sync_detailed(
        client=client,
        body=models.CustomerCreate.from_dict({"kind": "individual", "name": "Generated Client"}),
        idempotency_key=str(uuid.uuid4()),
    )
    assert created.status_code == 201 and isinstance(created.parsed, models.CustomerRead)
    customer = created.parsed
    assert created.headers["Location"].endswith(str(customer.id))

    stale = update_customer.sync_detailed(
        customer.id, client=client, body=models.CustomerUpdate.from_dict({"notes": "x"}), if_match='"999"'
    )
    assert stale.status_code == 412 and isinstance(stale.parsed, models.Problem)
    changed = update_customer.sync_detailed(
        customer.id,
        client=client,
        body=models.CustomerUpdate.from_dict({"notes": "met at the fair"}),
        if_match=created.headers["ETag"],
    )
    assert changed.status_code == 200 and changed.parsed.notes == "met at the fair"

    order = {
        "customer_id": str(customer.id),
        "occurred_at": "2026-11-01T10:00:00Z",
        "amount": "88.00",
        "currency": "CNY",
    }
    posted = record_order.sync_detailed(client=client, body=models.OrderCreate.from_dict(order))
    assert posted.status_code == 201 and isinstance(posted.parsed, models.OrderRead)

    refused = record_order.sync_detailed(client=client, body=models.OrderCreate.from_dict({**order, "amount": "-1"}))
    assert refused.status_code == 422
    problem = refused.parsed
    assert isinstance(problem, models.Problem)
    assert problem.code == "validation_failed" and problem.request_id == refused.headers["X-Request-ID"]
    assert [e.field for e in problem.errors] == ["body.amount"]

    def card() -> Any:
        response = read_score_card.sync_detailed(customer.id, client=client)
        return response.parsed if response.status_code == 200 else None

    score_card = poll(lambda: (c := card()) is not None and c.purchases.purchase_days == 1 and c)
    assert isinstance(score_card, models.ScoreCard), "the order never reached the score card"
    assert score_card.customer_id == customer.id


CLIENTS = ROOT / "clients"


def npm(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    command = ["npm", *args]
    result = subprocess.run(
        command,
        cwd=CLIENTS,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={**os.environ, **(env or {})},
    )
    assert result.returncode == 0, " ".join(command) + "\n" + result.stdout[-4000:] + result.stderr[-4000:]
    return result


@pytest.fixture(scope="module")
def node_modules() -> None:
    if not (CLIENTS / "node_modules" / ".package-lock.json").exists():
        npm("ci", "--no-audit", "--no-fund")


@NEED_NODE
def test_the_typescript_client_type_checks_against_the_document(document_file: Path, node_modules: None) -> None:
    shutil.copy(document_file, CLIENTS / "openapi.json")
    npm("run", "--silent", "check")


@NEED_NODE
@NEED_CHROMIUM
def test_a_browser_on_an_allowed_origin_can_call_the_gateway_and_read_the_docs(
    system: System, node_modules: None
) -> None:
    env = {
        "GATEWAY_URL": system.url("gateway"),
        "PAGE_PORTS": f"{FRONTEND_PORT},{STRANGER_PORT}",
        "CRM_USER": ADMIN[0],
        "CRM_PASSWORD": ADMIN[1],
        "CHROMIUM": CHROMIUM,
    }
    seen = json.loads(npm("run", "--silent", "browser", env=env).stdout.strip().splitlines()[-1])

    allowed = seen["origins"][f"http://127.0.0.1:{FRONTEND_PORT}"]
    assert allowed["status"] == 201, allowed
    assert allowed["etag"] and allowed["etag"].startswith('"'), "the ETag header is not exposed to the page"
    assert "/api/v1/customers/" in allowed["location"]
    assert allowed["requestId"] == "browser-test-1" and allowed["rateLimit"] is not None
    # an origin not in CRM_GATEWAY_CORS_ORIGINS: the browser itself refuses to hand over the answer
    assert "Failed to fetch" in seen["origins"][f"http://127.0.0.1:{STRANGER_PORT}"]["error"]
    assert seen["docs"]["operations"] >= 100
