"""One whole loop of the relationship practice through the gateway, on the four real processes.

1. a key organisation's senior leader appears in care;
2. a customer goes `lost`;
3. a retention action appears for the owner;
4. the customer buys again and turns `won_back`;
5. the action's outcome counts in the manager's win-back rate.

A live run is as of now, so the customer's old purchases are placed relative to the moment the
test runs; nothing is compared with a calendar date.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from e2e_system import System, poll, token

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    running = System(tmp_path_factory.mktemp("loop"))
    try:
        yield running
    finally:
        running.stop()


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def run_scoring(client: httpx.Client, headers: dict[str, str]) -> None:
    started = client.post("/api/v1/scoring/runs", json={}, headers=headers)
    assert started.status_code == 202, started.text

    def finished() -> dict[str, Any] | None:
        run: dict[str, Any] = client.get(started.headers["location"], headers=headers).json()
        return run if run["status"] in ("succeeded", "failed") else None

    run = poll(finished, seconds=120)
    assert run and run["status"] == "succeeded", run


def test_care_churn_retention_and_win_back_through_the_gateway(system: System) -> None:
    now = datetime.now(UTC)
    with httpx.Client(base_url=system.url("gateway"), timeout=60) as client:
        admin = {"Authorization": f"Bearer {token(client)}"}
        agent = ok(
            client.post(
                "/api/v1/users",
                json={
                    "email": "am@example.com",
                    "password": "a-long-pass-phrase-nobody-guesses",
                    "role": "agent",
                    "name": "Account Manager",
                },
                headers=admin,
            ),
            201,
        )
        owner = agent["id"]
        # every value segment answered with a win-back, so that whatever segment the model gives the
        # lapsed customer, their loss opens an action; set before any fact reaches scoring, since a
        # card first scored lost under other settings opens none later
        settings = client.get("/api/v1/scoring/settings", headers=admin)
        body = {k: v for k, v in ok(settings).items() if k not in ("version", "updated_at", "updated_by")}
        body["countermeasures"] = dict.fromkeys(body["countermeasures"], "win_back")
        ok(client.put("/api/v1/scoring/settings", json=body, headers={**admin, "If-Match": settings.headers["etag"]}))

        def create(body: dict[str, Any]) -> str:
            def accepted() -> dict[str, Any] | None:  # the customer service learns the new user by its feed
                response = client.post("/api/v1/customers", json={**body, "owner_id": owner}, headers=admin)
                return response.json() if response.status_code == 201 else None

            created = poll(accepted, seconds=30)
            assert created, "the new account manager never became a valid owner"
            return str(created["id"])

        org = create({"kind": "organization", "name": "Acme Trading", "influence_level": "high"})
        leader = create({"kind": "individual", "name": "Chen Jing"})
        lapsed = create({"kind": "individual", "name": "Li Lei"})
        ok(
            client.post(
                f"/api/v1/customers/{org}/contacts",
                json={"customer_id": leader, "roles": ["senior_leader"]},
                headers=admin,
            ),
            201,
        )
        for days in (720, 650):
            order = {
                "customer_id": lapsed,
                "amount": "800.00",
                "currency": "CNY",
                "occurred_at": (now - timedelta(days=days)).isoformat(),
            }
            ok(client.post("/api/v1/orders", json=order, headers=admin), 201)

        def card(cid: str) -> dict[str, Any]:
            response = client.get(f"/api/v1/customers/{cid}/scores", headers=admin)
            return response.json() if response.status_code == 200 else {}

        def caught_up() -> bool:
            # the events have reached scoring, and the organisation's key card its leader's
            leader_kind = card(leader).get("abc_class", {}).get("key_customer_kind")
            return leader_kind == "via_organization" and card(lapsed).get("purchases", {}).get("purchase_days") == 2

        for _ in range(6):  # a run as of now, again until the read model has every event
            run_scoring(client, admin)
            if poll(caught_up, seconds=10):
                break
        assert caught_up(), (card(leader), card(lapsed))

        # 1. the key organisation's senior leader is a key customer in care, named by the organisation
        assert card(leader)["care"]["status"] is not None and "Acme Trading" in str(
            card(leader)["abc_class"]["key_reason"]
        )
        due = ok(client.get("/api/v1/care/due", params={"owner_id": owner, "limit": 200}, headers=admin))
        assert leader in {item["customer_id"] for item in due["items"]}

        # 2. the lapsed customer is lost, on the score card and on the customer record
        assert card(lapsed)["lifecycle_suggestion"] == "lost", card(lapsed)

        def stage() -> str:
            return str(ok(client.get(f"/api/v1/customers/{lapsed}", headers=admin))["lifecycle_stage"])

        assert poll(lambda: stage() == "lost", seconds=60), stage()

        # 3. a retention action for the owner
        actions = ok(client.get("/api/v1/retention/actions", params={"customer_id": lapsed}, headers=admin))["items"]
        assert [(a["owner_id"], a["status"], a["countermeasure"]) for a in actions] == [(owner, "open", "win_back")]

        # 4. the customer buys again: won back, on the record and on the action
        again = {
            "customer_id": lapsed,
            "amount": "300.00",
            "currency": "CNY",
            "occurred_at": datetime.now(UTC).isoformat(),  # after the action opened: a purchase it won
        }
        ok(client.post("/api/v1/orders", json=again, headers=admin), 201)
        assert poll(lambda: stage() == "won_back", seconds=60), stage()

        def closed() -> dict[str, Any] | None:
            found = ok(client.get(f"/api/v1/retention/actions/{actions[0]['id']}", headers=admin))
            return found if found["status"] == "closed" else None

        action = poll(closed, seconds=60)
        assert action and action["outcome"] == "won_back", action

        # 5. the outcome counts in the manager's win-back rate
        period = {"from": (now - timedelta(days=1)).isoformat(), "to": datetime.now(UTC).isoformat()}
        report = ok(client.get("/api/v1/analytics/managers", params=period, headers=admin))
        mine = [item for item in report["items"] if item["manager_id"] == owner]
        assert len(mine) == 1 and mine[0]["name"] == "Account Manager", report
        assert (mine[0]["actions_closed"], mine[0]["actions_won_back"], mine[0]["win_back_rate"]) == (1, 1, 1.0), mine
