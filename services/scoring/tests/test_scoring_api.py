"""A whole population through events, a run, and the API on top (SQLite and PostgreSQL)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_chassis.dates import business_date
from crm_chassis.testing import internal_headers
from crm_scoring.db import infra
from crm_scoring.readmodel.models import RescoreRequest
from crm_scoring.runs.models import ScoringRun
from crm_scoring.scores import service as score_service
from crm_scoring.testing import apply, customer, event, order

Maker = async_sessionmaker[AsyncSession]
# a live run is as of now: the facts are placed relative to the moment the tests start
T0 = datetime.now(UTC).replace(microsecond=0)
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
    """A run (live unless `as_of` is given), carried to its end."""
    response = await client.post("/scoring/runs", json=body)
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
    assert (job["progress"]["done"], job["progress"]["total"], job["progress"]["stage"]) == (11, 11, None)
    assert [(s["name"], s["status"]) for s in job["progress"]["stages"]] == [
        ("load", "done"),
        ("fit", "done"),
        ("score", "done"),
        ("write", "done"),
    ]
    assert job["counts"]["customers"] == 11 and job["counts"]["buyers"] == 10
    # a live run times the part of its load that brought the kept statistics up to date
    assert set(job["timings"]) == {"refresh", "load", "fit", "score", "write"}

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
    assert c1["care"]["status"] == "lapsed" and c1["care"]["due_date"] == business_date(T0).isoformat()
    assert c1["clv"]["simple"] == f"{200 / 7 * 1095:.2f}"
    assert datetime.fromisoformat(c1["as_of"]) >= T0 and c1["p_alive"]["value"] > 0.5

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
    # every value segment a card can carry is a filter, the at-risk ones included
    cards = [(await client.get(f"/customers/{cid}/scores")).json() for cid in ids.values()]
    for segment in {card["value_segment"]["name"] for card in cards} | {"loyal_at_risk", "big_at_risk"}:
        if segment is None:
            continue
        found = await client.get("/scores", params={"segment": segment, "limit": 50})
        assert found.status_code == 200, found.text
        expected = {card["customer_id"] for card in cards if card["value_segment"]["name"] == segment}
        assert {i["customer_id"] for i in found.json()["items"]} == expected
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
    # Analysts read scores for analysis (docs/security.md), every customer's; not the care list.
    assert (await client.get(f"/customers/{ids['c1']}/scores", headers=analyst)).status_code == 200
    everyone = {i["customer_id"] for i in (await client.get("/scores", params={"limit": 200})).json()["items"]}
    analysed = (await client.get("/scores", params={"limit": 200}, headers=analyst)).json()["items"]
    assert {i["customer_id"] for i in analysed} == everyone >= {str(ids["c1"]), str(ids["c3"])}
    assert (await client.get("/care/due", headers=analyst)).status_code == 403
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
    # a plain date is an as_of (midnight in the business time zone): refused only for the running run
    assert (await client.post("/scoring/runs", json={"as_of": "2026-01-01"})).status_code == 409
    assert (await client.post("/scoring/runs", json={"as_of": "2026-13-01"})).status_code == 422
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


async def test_a_run_cannot_look_ahead(client: httpx.AsyncClient) -> None:
    ahead = datetime.now(UTC) + timedelta(minutes=5)
    for as_of in (ahead.isoformat(), (ahead + timedelta(days=2)).date().isoformat()):
        refused = await client.post("/scoring/runs", json={"as_of": as_of})
        assert refused.status_code == 422, refused.text
        assert refused.json()["code"] == "as_of_in_future"
        assert refused.headers["content-type"].startswith("application/problem+json")
    assert (await client.get("/scoring/runs")).json()["items"] == []


async def _outbox(db: Maker) -> list[Any]:
    async with db() as session:
        return list((await session.execute(select(infra.outbox.c.id))).scalars())


async def _queue(db: Maker) -> list[Any]:
    async with db() as session:
        return list((await session.execute(select(RescoreRequest.customer_id))).scalars())


async def test_a_backtest_keeps_its_results_under_the_run_and_touches_nothing_live(
    client: httpx.AsyncClient, db: Maker
) -> None:
    ids = await population(db)
    live = await run(client)
    assert live["mode"] == "live"
    cards_before = {name: (await client.get(f"/customers/{cid}/scores")).json() for name, cid in ids.items()}
    care_before = (await client.get("/care/due", headers=as_agent(AGENT_A))).json()
    model_before = (await client.get("/scoring/model")).json()
    outbox_before = await _outbox(db)
    assert outbox_before  # the live run published: the backtest must add nothing
    # a fact arriving between runs waits in the re-scoring queue; a backtest must leave it there
    await apply(db, order(ids["c5"], "10.00", T0 - timedelta(days=1)))
    queued = await _queue(db)
    assert queued == [ids["c5"]]

    as_of = days_ago(60)
    backtest = await run(client, as_of=as_of.isoformat())
    assert backtest["status"] == "succeeded" and backtest["mode"] == "backtest", backtest
    assert backtest["counts"]["segment_changed"] == 0 and backtest["counts"]["churn_risk_raised"] == 0

    # no card changed (values and versions), no event went out (so no exit survey and no webhook:
    # both follow score events), no care item moved, the live model and the queue stayed
    for name, cid in ids.items():
        response = await client.get(f"/customers/{cid}/scores")
        assert response.json() == cards_before[name], name
    assert (await client.get("/care/due", headers=as_agent(AGENT_A))).json() == care_before
    assert (await client.get("/scoring/model")).json() == model_before
    assert await _outbox(db) == outbox_before
    assert await _queue(db) == queued

    # the backtest's own results, as of its date: c3 bought 30 days ago, after the as_of
    results = (await client.get(f"/scoring/runs/{backtest['id']}/scores", params={"limit": 100})).json()["items"]
    assert {r["customer_id"] for r in results} == {str(cid) for cid in ids.values()}
    assert all(datetime.fromisoformat(r["as_of"]) == as_of for r in results)
    c3 = (await client.get(f"/scoring/runs/{backtest['id']}/scores/{ids['c3']}")).json()
    assert c3["purchases"]["purchase_days"] == 0 and c3["run_id"] == backtest["id"]
    assert cards_before["c3"]["purchases"]["purchase_days"] == 1
    lost = (await client.get(f"/scoring/runs/{backtest['id']}/scores", params={"churn_risk_gte": 0.5})).json()
    assert str(ids["c4"]) in {r["customer_id"] for r in lost["items"]}
    mine = (await client.get(f"/scoring/runs/{backtest['id']}/scores", headers=as_agent(AGENT_A))).json()["items"]
    assert {r["customer_id"] for r in mine} == {str(ids["c1"]), str(ids["c2"])}
    hidden = await client.get(f"/scoring/runs/{backtest['id']}/scores/{ids['c3']}", headers=as_agent(AGENT_A))
    assert hidden.status_code == 404

    model = (await client.get(f"/scoring/runs/{backtest['id']}/model")).json()
    assert model["mode"] == "backtest" and model["run_id"] == backtest["id"]
    assert datetime.fromisoformat(model["as_of"]) == as_of and model["data"]["buyers"] < model_before["data"]["buyers"]
    assert (await client.get(f"/scoring/runs/{live['id']}/model")).json()["mode"] == "live"
    not_backtest = await client.get(f"/scoring/runs/{live['id']}/scores")
    assert not_backtest.status_code == 404 and not_backtest.json()["code"] == "not_a_backtest"
    assert (await client.get(f"/scoring/runs/{uuid.uuid4()}/scores")).status_code == 404


def test_a_run_in_progress_names_its_stage() -> None:
    from crm_scoring.runs.models import ScoringRun
    from crm_scoring.runs.schemas import progress_of

    def stages(status: str, timings: dict[str, float]) -> tuple[str | None, list[str]]:
        run = ScoringRun(status=status, timings=timings, progress_done=0, progress_total=10)
        progress = progress_of(run)
        return progress.stage, [s.status for s in progress.stages]

    assert stages("queued", {}) == (None, ["pending"] * 4)
    assert stages("running", {}) == ("load", ["running", "pending", "pending", "pending"])
    assert stages("running", {"load": 0.1}) == ("fit", ["done", "running", "pending", "pending"])
    assert stages("running", {"load": 0.1, "fit": 2.0, "score": 0.5}) == ("write", ["done"] * 3 + ["running"])
    assert stages("failed", {"load": 0.1}) == (None, ["done", "failed", "pending", "pending"])
