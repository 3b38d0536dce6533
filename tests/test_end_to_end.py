"""End to end through the gateway, with the four real processes (tests/e2e_system.py)."""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from e2e_system import ADMIN, ROOT, System, poll, token


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    running = System(tmp_path_factory.mktemp("e2e"))
    try:
        yield running
    finally:
        if running.process.poll() is None:
            running.stop()


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
def test_complaint_resolution_csat_answer_and_the_score_card(system: System) -> None:
    with httpx.Client(base_url=system.url("gateway"), timeout=10) as client:
        bearer = {"Authorization": f"Bearer {token(client)}"}
        customer = client.post(
            "/api/v1/customers", json={"kind": "individual", "name": "Complainer"}, headers=bearer
        ).json()
        cid = customer["id"]
        order = {"customer_id": cid, "occurred_at": "2026-11-01T10:00:00Z", "amount": "300.00", "currency": "CNY"}
        assert client.post("/api/v1/orders", json=order, headers=bearer).status_code == 201
        complaint_body = {
            "customer_id": cid,
            "channel": "phone",
            "category": "delivery",
            "severity": "high",
            "description": "the parcel arrived broken",
        }
        # the complaint is accepted once the customer.created event has reached the feedback service
        opened = poll(
            lambda: (
                (r := client.post("/api/v1/complaints", json=complaint_body, headers=bearer)).status_code == 201 and r
            )
        )
        assert opened, "the feedback service never learned of the customer"
        complaint = opened.json()

        def card() -> dict:  # type: ignore[type-arg]
            response = client.get(f"/api/v1/customers/{cid}/scores", headers=bearer)
            return response.json() if response.status_code == 200 else {}

        # The order and the complaint travel through different services, so either may arrive first;
        # a customer without a purchase has no churn risk, hence wait for both.
        with_complaint = poll(
            lambda: (
                (c := card())
                and c["satisfaction"]["open_complaints"] == 1
                and c["purchases"]["purchase_days"] == 1
                and c
            )
        )
        assert with_complaint, "the open complaint and the order never both reached the score card"
        assert "open_complaint" in [r["code"] for r in with_complaint["churn_risk"]["reasons"]]

        url = f"/api/v1/complaints/{complaint['id']}/transitions"
        for action in ("acknowledge", "start"):
            assert client.post(url, json={"action": action}, headers=bearer).status_code == 200
        resolved = client.post(url, json={"action": "resolve", "resolution": "replaced the item"}, headers=bearer)
        assert resolved.status_code == 200, resolved.text
        invitation = resolved.json()["csat_invitation"]
        assert invitation["token"]

    # the customer answers from the link in the invitation: no login
    with httpx.Client(base_url=system.url("gateway"), timeout=10) as anonymous:
        shown = anonymous.get(f"/api/v1/surveys/by-token/{invitation['token']}")
        assert shown.status_code == 200, shown.text
        assert set(shown.json()) == {"title", "questions"} and cid not in shown.text
        answer = {"token": invitation["token"], "answers": {"satisfaction": 2, "comment": "took too long"}}
        first = anonymous.post("/api/v1/surveys/responses", json=answer)
        assert first.status_code == 201, first.text
        assert anonymous.post("/api/v1/surveys/responses", json=answer).status_code == 409
        assert anonymous.get("/api/v1/complaints").status_code == 401

    with httpx.Client(base_url=system.url("gateway"), timeout=10) as client:
        bearer = {"Authorization": f"Bearer {token(client)}"}

        def answered() -> dict:  # type: ignore[type-arg]
            response = client.get(f"/api/v1/customers/{cid}/scores", headers=bearer)
            body = response.json() if response.status_code == 200 else {}
            return (
                body
                if body and body["satisfaction"]["csat"] == 2 and body["satisfaction"]["open_complaints"] == 0
                else {}
            )

        final = poll(answered)
        assert final, "the CSAT answer never reached the score card"
        assert "dissatisfied" in [r["code"] for r in final["churn_risk"]["reasons"]]

        overview = client.get(f"/api/v1/customers/{cid}/overview", headers=bearer)
        assert overview.status_code == 200, overview.text
        parts = overview.json()
        assert parts["profile"]["name"] == "Complainer"
        assert parts["scores"]["satisfaction"]["csat"] == 2
        assert parts["open_complaints"] == []


@pytest.mark.e2e
def test_imported_orders_reach_the_score_cards(system: System) -> None:
    with httpx.Client(base_url=system.url("gateway"), timeout=30) as client:
        bearer = {"Authorization": f"Bearer {token(client)}"}
        refs = [f"IMP-{n}" for n in range(3)]
        for ref in refs:
            body = {"kind": "individual", "name": f"Imported {ref}", "external_ref": ref}
            assert client.post("/api/v1/customers", json=body, headers=bearer).status_code == 201
        rows = ["customer_external_ref,external_ref,source,occurred_at,amount,currency"]
        rows += [
            f"{ref},ORD-{ref}-{k},shop,2026-10-0{k + 1}T12:00:00Z,{10 * (k + 1)}.50,CNY"
            for ref in refs
            for k in range(2)
        ]
        upload = {"file": ("orders.csv", ("\n".join(rows) + "\n").encode(), "text/csv")}
        started = client.post("/api/v1/imports", params={"kind": "orders"}, files=upload, headers=bearer)
        assert started.status_code == 202, started.text
        job_url = f"/api/v1/imports/{started.json()['id']}"
        job = poll(lambda: (j := client.get(job_url, headers=bearer).json())["status"] in ("succeeded", "failed") and j)
        assert job and job["status"] == "succeeded", job
        assert job["counts"]["created"] == 6
        listed = client.get("/api/v1/customers", params={"external_ref": refs[0]}, headers=bearer).json()["items"]
        customer_id = listed[0]["id"]

        def card_with_both_orders() -> dict:  # type: ignore[type-arg]
            response = client.get(f"/api/v1/customers/{customer_id}/scores", headers=bearer)
            body = response.json() if response.status_code == 200 else {}
            return (
                body
                if body and "2 purchase days" in body["p_alive"]["explanation"] + body["loyalty_stage"]["explanation"]
                else {}
            )

        assert poll(card_with_both_orders), "the imported orders never reached the score card"


@pytest.mark.e2e
def test_two_agents_cannot_reach_each_others_customers_in_any_service(system: System) -> None:
    with httpx.Client(base_url=system.url("gateway"), timeout=10) as client:
        admin = {"Authorization": f"Bearer {token(client)}"}
        agents: dict[str, dict[str, str]] = {}
        for who in ("a", "b"):
            email, password = f"agent-{who}@example.com", f"Green-{who}-harbour-2026!"
            user = client.post(
                "/api/v1/users",
                json={"email": email, "password": password, "role": "agent", "name": who},
                headers=admin,
            )
            assert user.status_code == 201, user.text
            # the customer service learns of the new agent from the gateway's feed, a moment later
            body = {"kind": "individual", "name": f"Customer of {who}", "owner_id": user.json()["id"]}
            created = poll(
                lambda body=body: (
                    (r := client.post("/api/v1/customers", json=body, headers=admin)).status_code == 201 and r
                ),
                seconds=30,  # the customer service's feed reader may still be backing off from the start
            )
            assert created, "the customer service never learned of the new agent"
            assert created.json()["owner_name"] == who
            customer = created.json()
            order = {
                "customer_id": customer["id"],
                "occurred_at": "2026-11-02T10:00:00Z",
                "amount": "50.00",
                "currency": "CNY",
            }
            order_id = client.post("/api/v1/orders", json=order, headers=admin).json()["id"]
            complaint_body = {
                "customer_id": customer["id"],
                "channel": "email",
                "category": "billing",
                "severity": "low",
                "description": "wrong invoice",
            }
            opened = poll(
                lambda body=complaint_body: (
                    (r := client.post("/api/v1/complaints", json=body, headers=admin)).status_code == 201 and r
                )
            )
            assert opened
            login = client.post("/api/v1/auth/token", data={"username": email, "password": password})
            agents[who] = {
                "customer": customer["id"],
                "order": order_id,
                "complaint": opened.json()["id"],
                "auth": f"Bearer {login.json()['access_token']}",
            }
        assert poll(
            lambda: client.get(f"/api/v1/customers/{agents['b']['customer']}/scores", headers=admin).status_code == 200
        )

        for me, other in (("a", "b"), ("b", "a")):
            mine, theirs = agents[me], agents[other]
            headers = {"Authorization": mine["auth"]}
            for path in (
                "/api/v1/customers/{c}",
                "/api/v1/customers/{c}/orders",
                "/api/v1/customers/{c}/scores",
                "/api/v1/orders/{o}",
                "/api/v1/complaints/{k}",
            ):
                own = path.format(c=mine["customer"], o=mine["order"], k=mine["complaint"])
                foreign = path.format(c=theirs["customer"], o=theirs["order"], k=theirs["complaint"])
                assert client.get(own, headers=headers).status_code == 200, own
                assert client.get(foreign, headers=headers).status_code == 404, foreign
            write = client.patch(
                f"/api/v1/customers/{theirs['customer']}",
                json={"name": "stolen"},
                headers={**headers, "If-Match": '"1"'},
            )
            assert write.status_code == 404
            listed = client.get("/api/v1/customers", headers=headers).json()["items"]
            assert [c["id"] for c in listed] == [mine["customer"]]
            complaints = client.get("/api/v1/complaints", headers=headers).json()["items"]
            assert [c["id"] for c in complaints] == [mine["complaint"]]


def fuzz(system: System, bearer: str, examples: int) -> subprocess.CompletedProcess[str]:
    """schemathesis with every default check (schemathesis.toml says which one is off, and why)."""
    spec = f"{system.url('gateway')}/api/v1/openapi.json"
    command = [str(Path(sys.executable).parent / "schemathesis"), "--config-file", str(ROOT / "schemathesis.toml")]
    command += ["run", spec, "--url", system.url("gateway"), "-H", f"Authorization: Bearer {bearer}"]
    # signing out would revoke the token the run uses
    command += ["--exclude-path", "/api/v1/auth/logout", "--max-examples", str(examples)]
    command += ["--phases", "examples,fuzzing", "--request-timeout", "10", "--generation-deterministic", "--no-color"]
    return subprocess.run(command, capture_output=True, text=True, timeout=900, check=False)


@pytest.mark.e2e
@pytest.mark.parametrize("role", ["admin", "agent"])
def test_api_fuzzing_finds_no_server_error_and_no_departure_from_the_document(system: System, role: str) -> None:
    """schemathesis over every operation of the merged document: no 5xx, and every status, header,
    content type and body the server answers is the one the document declares."""
    with httpx.Client(base_url=system.url("gateway"), timeout=10) as client:
        bearer = token(client)
        if role != "admin":
            email, password = f"fuzz-{role}@example.com", f"Kq7-{uuid.uuid4().hex}-zR"
            user = {"email": email, "name": f"Fuzz {role}", "role": role, "password": password}
            created = client.post("/api/v1/users", json=user, headers={"Authorization": f"Bearer {bearer}"})
            assert created.status_code == 201, created.text
            signed_in = client.post("/api/v1/auth/token", data={"username": email, "password": password})
            bearer = signed_in.json()["access_token"]
    result = fuzz(system, bearer, examples=10)
    report = result.stdout[result.stdout.find("FAILURES") :] if "FAILURES" in result.stdout else result.stdout
    assert result.returncode == 0, report[:8000] + result.stderr[-2000:]
    summary = result.stdout[result.stdout.find("SUMMARY") :]
    print(summary)  # the figures: operations tested, cases generated, failures
    tested = re.search(r"Tested: (\d+)", summary)
    assert tested and int(tested.group(1)) >= 100, summary


@pytest.mark.e2e
def test_sigterm_stops_all_four(system: System) -> None:
    assert system.stop() == 0
    for name in system.ports:
        with pytest.raises(httpx.ConnectError):
            httpx.get(system.url(name) + "/healthz", timeout=2)
