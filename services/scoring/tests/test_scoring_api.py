"""A whole population through events, a run, and the API on top (SQLite and PostgreSQL)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_chassis.testing import internal_headers
from crm_scoring.db import infra
from crm_scoring.runs.models import ScoringRun
from crm_scoring.scores import service as score_service
from crm_scoring.testing import apply, customer, event, order

Maker = async_sessionmaker[AsyncSession]
T0 = datetime(2026, 11, 20, 12, tzinfo=UTC)
AGENT_A, AGENT_B = uuid.uuid4(), uuid.uuid4()


def days_ago(n: float) -> datetime:
    return T0 - timedelta(days=n)


async def population(db: Maker) -> dict[str, uuid.UUID]:
    ids = {name: uuid.uuid4() for name in ("c1", "c2", "c3", "c4", "c5")}
    ids.update({f"s{k}": uuid.uuid4() for k in range(1, 7)})
    owners = {"c1": AGENT_A, "c2": AGENT_A, "c3": AGENT_B, "c4": AGENT_B}
    events = [customer(cid, owners.get(name, AGENT_B)) for name, cid in ids.items()]
    events += [order(ids["c1"], "200.00", days_ago(7 * k) - timedelta(hours=1)) for k in range(20)]
    events += [order(ids["c2"], "50.00", days_ago(300)), order(ids["c2"], "50.00", days_ago(200))]
    events += [order(ids["c3"], "20.00", days_ago(30))]
    events += [order(ids["c4"], "80.00", days_ago(400 + 30 * k)) for k in range(5)]
    for k in range(1, 7):
        events += [order(ids[f"s{k}"], "30.00", days_ago(10 * k)), order(ids[f"s{k}"], "30.00", days_ago(10 * k + 5))]
    contact = {"id": str(uuid.uuid4()), "customer_id": str(ids["c2"]), "occurred_at": days_ago(5).isoformat()}
    events.append(event("interaction.logged", {**contact, "channel": "phone", "direction": "outbound"}))
    await apply(db, *events)
    return ids


async def run(client: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    response = await client.post("/scoring/runs", json={"as_of": T0.isoformat(), **body})
    assert response.status_code == 202, response.text
    assert response.headers["location"] == f"/scoring/runs/{response.json()['id']}"
    finished = await client.get(f"/scoring/runs/{response.json()['id']}")
    assert finished.status_code == 200
    return finished.json()


def as_agent(owner: uuid.UUID) -> dict[str, str]:
    return internal_headers(role="agent", subject=str(owner))


async def test_full_run_score_cards_and_lists(client: httpx.AsyncClient, db: Maker) -> None:
    ids = await population(db)
    job = await run(client)
    assert job["status"] == "succeeded", job
    assert job["progress"] == {"done": 11, "total": 11}
    assert job["counts"]["customers"] == 11 and job["counts"]["buyers"] == 10
    assert set(job["timings"]) == {"load", "fit", "score", "write"}

    model = (await client.get("/scoring/model")).json()
    assert model["time_unit"] == "weeks" and model["data"]["buyers"] == 10
    assert set(model["bgnbd"]["parameters"]) == {"r", "alpha", "a", "b"}
    assert model["bgnbd"]["log_likelihood"] < 0

    c1 = (await client.get(f"/customers/{ids['c1']}/scores")).json()
    assert c1["rfm"]["code"] == "5-5-5" and c1["rfm"]["segment"] == "champions"
    assert "20 orders and 4000.00 spent" in c1["rfm"]["explanation"]
    assert c1["abc_class"]["value"] == "A" and c1["abc_class"]["key_customer_kind"] == "value"
    assert c1["value_segment"]["name"] == "profitable_big"
    assert c1["value_segment"]["strategy"] == "keep" and c1["value_segment"]["rule"] == "class_a"
    assert c1["care"]["status"] == "lapsed" and c1["care"]["due_date"] == "2026-11-20"
    assert c1["clv"]["simple"] == f"{200 / 7 * 1095:.2f}"
    assert c1["as_of"].startswith("2026-11-20") and c1["p_alive"]["value"] > 0.5

    c3 = (await client.get(f"/customers/{ids['c3']}/scores")).json()
    assert 0 < c3["p_alive"]["value"] < 1 and "one-time buyer" in c3["p_alive"]["explanation"]
    assert c3["loyalty_stage"]["value"] == "new" and c3["clv"]["simple"] is None

    c4 = (await client.get(f"/customers/{ids['c4']}/scores")).json()
    assert c4["lifecycle_suggestion"] == "lost"
    assert "inactive" in [r["code"] for r in c4["churn_risk"]["reasons"]]
    assert c4["rfm"]["r"] is None  # no purchase inside the RFM window

    c5 = (await client.get(f"/customers/{ids['c5']}/scores")).json()
    assert c5["churn_risk"]["score"] is None and c5["loyalty_stage"]["value"] == "potential"

    listed = (await client.get("/scores", params={"abc_class": "A"})).json()
    assert [i["customer_id"] for i in listed["items"]] == [str(ids["c1"])]
    risky = (await client.get("/scores", params={"churn_risk_gte": 0.5})).json()["items"]
    assert str(ids["c4"]) in {i["customer_id"] for i in risky} and str(ids["c1"]) not in {
        i["customer_id"] for i in risky
    }
    champions = (await client.get("/scores", params={"segment": "champions"})).json()["items"]
    assert [i["customer_id"] for i in champions] == [str(ids["c1"])]
    first = (await client.get("/scores", params={"limit": 4})).json()
    rest = (await client.get("/scores", params={"limit": 50, "cursor": first["next_cursor"]})).json()
    assert len(first["items"]) == 4 and len(rest["items"]) == 7 and rest["next_cursor"] is None

    async with db() as session:
        outbox = (await session.execute(select(infra.outbox.c.type, infra.outbox.c.data))).all()
    raised = {d["customer_id"]: d for t, d in outbox if t == "score.churn_risk_raised"}
    assert raised[str(ids["c4"])]["lifecycle_suggestion"] == "lost"


async def test_agents_see_their_own_customers_and_care_list(client: httpx.AsyncClient, db: Maker) -> None:
    ids = await population(db)
    await run(client)
    mine = await client.get(f"/customers/{ids['c1']}/scores", headers=as_agent(AGENT_A))
    assert mine.status_code == 200
    assert (await client.get(f"/customers/{ids['c3']}/scores", headers=as_agent(AGENT_A))).status_code == 404
    listed = (await client.get("/scores", headers=as_agent(AGENT_A))).json()["items"]
    assert {i["customer_id"] for i in listed} == {str(ids["c1"]), str(ids["c2"])}
    assert (
        await client.get("/scores", params={"owner_id": str(AGENT_B)}, headers=as_agent(AGENT_A))
    ).status_code == 403
    due = (await client.get("/care/due", headers=as_agent(AGENT_A))).json()["items"]
    assert [i["customer_id"] for i in due] == [str(ids["c1"])]
    assert (await client.get("/analytics/abc", headers=as_agent(AGENT_A))).status_code == 403
    analyst = internal_headers(role="analyst")
    assert (await client.get(f"/customers/{ids['c1']}/scores", headers=analyst)).status_code == 403
    assert (await client.get("/analytics/segments", headers=analyst)).status_code == 200


async def test_one_run_at_a_time(client: httpx.AsyncClient, db: Maker) -> None:
    running = uuid.uuid4()
    async with db.begin() as session:
        await session.execute(
            insert(ScoringRun).values(
                id=running,
                status="running",
                active=1,
                as_of=T0,
                requested_by="x",
                created_at=T0,
                progress_done=0,
                progress_total=0,
                counts={},
                timings={},
            )
        )
    response = await client.post("/scoring/runs", json={})
    assert response.status_code == 409
    assert response.json()["running_run_id"] == str(running) and response.json()["code"] == "run_in_progress"
    assert (await client.post("/scoring/runs", json={"as_of": "2026-01-01"})).status_code == 422
    history = (await client.get("/scoring/runs")).json()["items"]
    assert [h["id"] for h in history] == [str(running)]


async def test_an_event_between_runs_rescores_against_the_last_run(client: httpx.AsyncClient, db: Maker) -> None:
    ids = await population(db)
    job = await run(client)
    before = (await client.get(f"/customers/{ids['c3']}/scores")).json()
    await apply(db, order(ids["c3"], "500.00", datetime.now(UTC) - timedelta(minutes=1)))
    async with db.begin() as session:
        assert await score_service.drain(session) == 1
    after = (await client.get(f"/customers/{ids['c3']}/scores")).json()
    assert after["run_id"] == job["id"]  # the run's model and breakpoints, not a new fit
    assert after["as_of"] > before["as_of"]
    assert after["loyalty_stage"]["value"] == "repeat" and after["clv"]["simple"] is not None
    assert after["rfm"]["m"] >= before["rfm"]["m"]


async def test_settings_are_validated_and_guarded(client: httpx.AsyncClient) -> None:
    read = await client.get("/scoring/settings")
    assert read.status_code == 200 and read.headers["etag"] == '"0"'
    body = {k: v for k, v in read.json().items() if k not in ("version", "updated_at", "updated_by")}
    assert (await client.put("/scoring/settings", json=body)).status_code == 428
    assert (await client.put("/scoring/settings", json=body, headers={"If-Match": '"7"'})).status_code == 412
    bad = await client.put("/scoring/settings", json={**body, "abc_a_share": 0.99}, headers={"If-Match": '"0"'})
    assert bad.status_code == 422
    unknown = await client.put("/scoring/settings", json={**body, "surprise": 1}, headers={"If-Match": '"0"'})
    assert unknown.status_code == 422
    ok = await client.put("/scoring/settings", json={**body, "care_cadence_days": 10}, headers={"If-Match": '"0"'})
    assert ok.status_code == 200 and ok.json()["version"] == 1 and ok.headers["etag"] == '"1"'
    assert (await client.get("/scoring/settings")).json()["care_cadence_days"] == 10
    agent = await client.put("/scoring/settings", json=body, headers={**as_agent(AGENT_A), "If-Match": '"1"'})
    assert agent.status_code == 403


async def test_retention_and_churn_analytics(client: httpx.AsyncClient, db: Maker) -> None:
    ids = await population(db)
    await run(client)
    params = {"from": days_ago(180).isoformat(), "to": T0.isoformat()}
    retention = (await client.get("/analytics/retention", params=params)).json()
    # at start c2 and c4; at end c1, c2, c3 and the six small buyers; c4 lost
    assert (retention["start_count"], retention["end_count"]) == (2, 9)
    assert (retention["new_count"], retention["lost_count"]) == (8, 1)
    assert retention["retention_rate"] == pytest.approx(0.5) and retention["churn_rate"] == pytest.approx(0.5)
    churn = (await client.get("/analytics/churn", params=params)).json()
    assert churn["lost_count"] == 1 and {"code": "inactive", "count": 1} in churn["reasons"]
    curve = (await client.get("/analytics/abc")).json()
    assert curve["points"][0] == {"customer_share": 0.0, "value_share": 0.0}
    assert curve["points"][-1]["value_share"] == pytest.approx(1.0)
    segments = (await client.get("/analytics/segments")).json()
    assert sum(s["customers"] for s in segments["value_segments"]) == 10
    reversed_period = {"from": T0.isoformat(), "to": days_ago(1).isoformat()}
    assert (await client.get("/analytics/retention", params=reversed_period)).status_code == 422
    assert ids
