"""Churn countermeasures, retention actions and churn reasons (SQLite and PostgreSQL).

Scores are written through `bulk_repository.write`, which takes the binary COPY path on PostgreSQL
and the row path on SQLite; a live run and the re-scoring worker go through it too (tested here
with the clock fixed at NOW).
"""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import date, timedelta
from typing import Any

import httpx
import numpy as np
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_chassis.identity import Principal, sign_internal_token
from crm_chassis.settings import DEV_INTERNAL_SECRET
from crm_chassis.testing import internal_headers
from crm_scoring.models.segments import SEGMENT_TABLE
from crm_scoring.readmodel import stats_repository as stats_repo
from crm_scoring.reasons.models import ChurnReason, MergeMove
from crm_scoring.retention.models import RetentionAction
from crm_scoring.runs import service as run_service
from crm_scoring.scores import bulk_repository as bulk_repo
from crm_scoring.scores import engine
from crm_scoring.scores import service as score_service
from crm_scoring.settings.schemas import ScoringSettings
from crm_scoring.testing import NOW, apply, customer, event, order

Maker = async_sessionmaker[AsyncSession]
AGENT_A, AGENT_B, MANAGER = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()


def as_agent(owner: uuid.UUID) -> dict[str, str]:
    return internal_headers(role="agent", subject=str(owner))


def as_manager_of(*team: uuid.UUID) -> dict[str, str]:
    principal = Principal(
        subject=str(MANAGER), kind="user", role="manager", team=frozenset(str(member) for member in team)
    )
    return {"X-Internal-Token": sign_internal_token(principal, DEV_INTERNAL_SECRET, ttl_seconds=3600)}


async def shop(db: Maker) -> dict[str, uuid.UUID]:
    """`gone` last bought 800 days before NOW (lost); the others buy every 20 days up to NOW."""
    ids = {"gone": uuid.uuid4(), "steady_a": uuid.uuid4(), "steady_b": uuid.uuid4()}
    owners = {"gone": AGENT_A, "steady_a": AGENT_A, "steady_b": AGENT_B}
    events = [customer(cid, owners[name]) for name, cid in ids.items()]
    events.append(order(ids["gone"], "90.00", NOW - timedelta(days=800)))
    for name in ("steady_a", "steady_b"):
        events += [order(ids[name], "40.00", NOW - timedelta(days=20 * k + 1)) for k in range(10)]
    await apply(db, *events)
    return ids


async def scored(db: Maker, settings: ScoringSettings) -> tuple[stats_repo.Population, bulk_repo.Staged]:
    async with db.begin() as session:
        pop = await stats_repo.load(session, as_of=NOW, settings=settings)
    return pop, bulk_repo.staged(engine.score(pop, engine.fit(pop, settings), settings))


def forced(
    pop: stats_repo.Population, columns: bulk_repo.Staged, changes: dict[uuid.UUID, tuple[str | None, str]]
) -> bulk_repo.Staged:
    """The columns with each named customer's (lifecycle suggestion, value segment) set."""
    out = dict(columns)
    out["lifecycle_suggestion"] = np.array(columns["lifecycle_suggestion"], dtype=object)
    out["value_segment"] = np.array(columns["value_segment"], dtype=object)
    for cid, (suggestion, segment) in changes.items():
        i = pop.ids.index(cid)
        out["lifecycle_suggestion"][i], out["value_segment"][i] = suggestion, segment
    return out


async def write(
    db: Maker, pop: stats_repo.Population, columns: bulk_repo.Staged, settings: ScoringSettings, *, day: int = 0
) -> None:
    at = NOW + timedelta(days=day)
    stamp = bulk_repo.Stamp.of(settings, run_id=None, as_of=at, scored_at=at)
    async with db.begin() as session:
        await bulk_repo.write(session, pop, columns, stamp)


async def actions(db: Maker) -> list[RetentionAction]:
    async with db() as session:
        return list((await session.scalars(select(RetentionAction).order_by(RetentionAction.created_at))).all())


async def put_settings(client: httpx.AsyncClient, **changes: Any) -> httpx.Response:
    read = await client.get("/scoring/settings")
    body = {k: v for k, v in read.json().items() if k not in ("version", "updated_at", "updated_by")}
    return await client.put("/scoring/settings", json={**body, **changes}, headers={"If-Match": read.headers["etag"]})


# --- countermeasures in the settings --------------------------------------------------------------


def test_default_countermeasures_follow_the_strategy_of_each_segment() -> None:
    defaults = ScoringSettings().countermeasures
    assert set(defaults) == set(SEGMENT_TABLE)
    by_strategy = {"keep": "retain", "retain": "retain", "develop": "win_back", "maintain_or_let_go": "maintain"}
    assert defaults == {segment: by_strategy[strategy] for segment, (_, strategy, _) in SEGMENT_TABLE.items()}
    assert defaults["low_value"] == "maintain" and defaults["growth_potential"] == "win_back"


async def test_countermeasures_are_validated_and_kept_in_the_settings(client: httpx.AsyncClient) -> None:
    unknown_segment = await put_settings(client, countermeasures={"vip": "retain"})
    assert unknown_segment.status_code == 422 and "vip" in unknown_segment.text
    unknown_measure = await put_settings(client, countermeasures={"low_value": "ignore"})
    assert unknown_measure.status_code == 422
    assert (await put_settings(client, retention_due_days=0)).status_code == 422
    ok = await put_settings(client, countermeasures={"low_value": "let_go"}, retention_due_days=7)
    assert ok.status_code == 200, ok.text
    stored = (await client.get("/scoring/settings")).json()
    # a segment left out keeps its default
    assert stored["countermeasures"] == {**ScoringSettings().countermeasures, "low_value": "let_go"}
    assert stored["retention_due_days"] == 7


# --- opening actions --------------------------------------------------------------------------------


async def test_a_customer_turning_lost_or_at_risk_gets_one_action(db: Maker) -> None:
    ids = await shop(db)
    settings = ScoringSettings(countermeasures={"growth_potential": "win_back", "loyal_at_risk": "retain"})
    pop, columns = await scored(db, settings)
    healthy = {cid: (None, "growth_potential") for cid in pop.ids}
    await write(db, pop, forced(pop, columns, healthy), settings)
    assert await actions(db) == []
    turned = {
        **healthy,
        ids["gone"]: ("lost", "growth_potential"),
        ids["steady_a"]: ("at_risk", "loyal_at_risk"),
        ids["steady_b"]: ("at_risk", "low_value"),  # maintain: no action
    }
    await write(db, pop, forced(pop, columns, turned), settings, day=1)
    opened = {a.customer_id: a for a in await actions(db)}
    assert set(opened) == {ids["gone"], ids["steady_a"]}
    gone = opened[ids["gone"]]
    assert (gone.countermeasure, gone.suggestion, gone.value_segment, gone.status) == (
        "win_back",
        "lost",
        "growth_potential",
        "open",
    )
    assert gone.due_date == (NOW + timedelta(days=1 + 14)).date()
    assert opened[ids["steady_a"]].countermeasure == "retain"
    # scored again unchanged: not newly at risk, nothing new
    await write(db, pop, forced(pop, columns, turned), settings, day=2)
    assert len(await actions(db)) == 2
    # lost → at_risk turns the suggestion again, but the open action stays the only one
    again = {**turned, ids["gone"]: ("at_risk", "growth_potential")}
    await write(db, pop, forced(pop, columns, again), settings, day=3)
    assert len(await actions(db)) == 2


async def test_a_first_scoring_that_finds_a_customer_lost_opens_an_action(db: Maker) -> None:
    ids = await shop(db)
    settings = ScoringSettings(countermeasures={"low_value": "retain"})
    pop, columns = await scored(db, settings)
    everyone = {cid: (None, "growth_potential") for cid in pop.ids} | {ids["gone"]: ("lost", "low_value")}
    await write(db, pop, forced(pop, columns, everyone), settings)
    assert [(a.customer_id, a.countermeasure) for a in await actions(db)] == [(ids["gone"], "retain")]


async def test_maintain_and_let_go_open_no_action(db: Maker) -> None:
    ids = await shop(db)
    settings = ScoringSettings(countermeasures={"low_value": "let_go", "growth_potential": "maintain"})
    pop, columns = await scored(db, settings)
    turned = {ids["gone"]: ("lost", "low_value"), ids["steady_a"]: ("at_risk", "growth_potential")}
    await write(db, pop, forced(pop, columns, turned), settings)
    assert await actions(db) == []


async def test_after_a_closed_action_only_a_new_turn_opens_another(client: httpx.AsyncClient, db: Maker) -> None:
    ids = await shop(db)
    settings = ScoringSettings(countermeasures={"low_value": "win_back"})
    pop, columns = await scored(db, settings)
    lost = {ids["gone"]: ("lost", "low_value")}
    await write(db, pop, forced(pop, columns, lost), settings)
    (first,) = await actions(db)
    closed = await client.patch(f"/retention/actions/{first.id}", json={"outcome": "lost"}, headers={"If-Match": '"1"'})
    assert closed.status_code == 200, closed.text
    await write(db, pop, forced(pop, columns, lost), settings, day=1)  # still lost: no new turn
    assert len(await actions(db)) == 1
    await write(db, pop, forced(pop, columns, {ids["gone"]: (None, "low_value")}), settings, day=2)
    await write(db, pop, forced(pop, columns, lost), settings, day=3)
    found = await actions(db)
    assert [a.status for a in found] == ["closed", "open"]


async def test_rescoring_opens_the_action(
    client: httpx.AsyncClient, db: Maker, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = await shop(db)
    assert (await put_settings(client, countermeasures=dict.fromkeys(SEGMENT_TABLE, "win_back"))).status_code == 200
    monkeypatch.setattr(score_service, "utcnow", lambda: NOW)
    async with db.begin() as session:
        await score_service.rescore(session, [ids["gone"]])
    found = await actions(db)
    assert [(a.customer_id, a.suggestion, a.countermeasure) for a in found] == [(ids["gone"], "lost", "win_back")]
    async with db.begin() as session:
        await score_service.rescore(session, [ids["gone"]])
    assert len(await actions(db)) == 1


async def test_a_live_run_opens_actions_only_where_the_countermeasure_acts(
    client: httpx.AsyncClient, db: Maker, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = await shop(db)
    monkeypatch.setattr(run_service, "utcnow", lambda: NOW)
    assert (await put_settings(client, countermeasures=dict.fromkeys(SEGMENT_TABLE, "maintain"))).status_code == 200
    job = await client.post("/scoring/runs", json={})
    assert (await client.get(f"/scoring/runs/{job.json()['id']}")).json()["status"] == "succeeded"
    assert await actions(db) == []
    # the same customers scored afresh with countermeasures that act
    async with db.begin() as session:
        await score_service.forget(session, ids["gone"])
    assert (await put_settings(client, countermeasures=dict.fromkeys(SEGMENT_TABLE, "retain"))).status_code == 200
    job = await client.post("/scoring/runs", json={})
    assert (await client.get(f"/scoring/runs/{job.json()['id']}")).json()["status"] == "succeeded"
    found = {a.customer_id: a for a in await actions(db)}
    assert found[ids["gone"]].suggestion == "lost" and found[ids["gone"]].countermeasure == "retain"
    assert found[ids["gone"]].created_at == NOW


# --- the work list and outcomes -----------------------------------------------------------------------


async def opened_for_everyone(db: Maker) -> dict[str, uuid.UUID]:
    ids = await shop(db)
    settings = ScoringSettings(countermeasures={"low_value": "win_back", "growth_potential": "retain"})
    pop, columns = await scored(db, settings)
    turned = {
        ids["gone"]: ("lost", "low_value"),
        ids["steady_a"]: ("at_risk", "growth_potential"),
        ids["steady_b"]: ("at_risk", "growth_potential"),
    }
    await write(db, pop, forced(pop, columns, turned), settings)
    assert len(await actions(db)) == 3
    return ids


async def test_the_list_shows_each_caller_what_they_may_see(client: httpx.AsyncClient, db: Maker) -> None:
    ids = await opened_for_everyone(db)

    async def customers(headers: dict[str, str] | None = None, **params: Any) -> set[uuid.UUID]:
        response = await client.get("/retention/actions", params=params, headers=headers or {})
        assert response.status_code == 200, response.text
        return {uuid.UUID(item["customer_id"]) for item in response.json()["items"]}

    everyone = {ids["gone"], ids["steady_a"], ids["steady_b"]}
    assert await customers() == everyone
    assert await customers(internal_headers(role="analyst")) == everyone
    assert await customers(as_agent(AGENT_A)) == {ids["gone"], ids["steady_a"]}
    assert await customers(as_agent(AGENT_B)) == {ids["steady_b"]}
    assert await customers(as_manager_of(AGENT_B)) == {ids["steady_b"]}
    assert await customers(owner_id=str(AGENT_B)) == {ids["steady_b"]}
    assert await customers(countermeasure="win_back") == {ids["gone"]}
    other = await client.get("/retention/actions", params={"owner_id": str(AGENT_B)}, headers=as_agent(AGENT_A))
    assert other.status_code == 403
    key = internal_headers(role=None, kind="api_key")  # type: ignore[arg-type]
    assert (await client.get("/retention/actions", headers=key)).status_code == 403
    assert (await client.get("/retention/actions", params={"status": "maybe"})).status_code == 422
    item = (await client.get("/retention/actions", params={"countermeasure": "win_back"})).json()["items"][0]
    assert item["owner_id"] == str(AGENT_A) and item["status"] == "open" and item["outcome"] is None


async def test_an_outcome_closes_the_action(client: httpx.AsyncClient, db: Maker) -> None:
    ids = await opened_for_everyone(db)
    listed = (await client.get("/retention/actions", params={"owner_id": str(AGENT_B)})).json()["items"]
    action_id = listed[0]["id"]
    path = f"/retention/actions/{action_id}"
    read = await client.get(path, headers=as_agent(AGENT_B))
    assert read.status_code == 200 and read.headers["etag"] == '"1"'
    assert (await client.get(path, headers=as_agent(AGENT_A))).status_code == 404
    assert (await client.patch(path, json={"outcome": "kept"})).status_code == 428
    assert (await client.patch(path, json={"outcome": "kept"}, headers={"If-Match": '"9"'})).status_code == 412
    for bad in ({"outcome": "maybe"}, {"outcome": None}, {"status": "closed"}):
        assert (await client.patch(path, json=bad, headers={"If-Match": '"1"'})).status_code == 422, bad
    hidden = await client.patch(path, json={"outcome": "kept"}, headers={**as_agent(AGENT_A), "If-Match": '"1"'})
    assert hidden.status_code == 404
    analyst = await client.patch(
        path, json={"note": "x"}, headers={**internal_headers(role="analyst"), "If-Match": '"1"'}
    )
    assert analyst.status_code == 403
    noted = await client.patch(
        path, json={"note": "called, will visit"}, headers={**as_agent(AGENT_B), "If-Match": '"1"'}
    )
    assert noted.status_code == 200 and noted.json()["status"] == "open" and noted.headers["etag"] == '"2"'
    # an analyst reads the list for analysis: no name, no note, on the item and in the list
    as_analyst = internal_headers(role="analyst")
    seen = (await client.get(path, headers=as_analyst)).json()
    assert (seen["display_name"], seen["note"], seen["status"]) == (None, None, "open")
    assert noted.json()["display_name"] is not None
    for item in (await client.get("/retention/actions", headers=as_analyst)).json()["items"]:
        assert item["display_name"] is None and item["note"] is None
    await client.post(
        f"/customers/{ids['steady_b']}/churn-reasons", json={"code": "price", "note": "her husband lost his job"}
    )
    reasons = (await client.get(f"/customers/{ids['steady_b']}/churn-reasons", headers=as_analyst)).json()["items"]
    assert [(r["code"], r["note"]) for r in reasons] == [("price", None)]
    done = await client.patch(path, json={"outcome": "kept"}, headers={**as_agent(AGENT_B), "If-Match": '"2"'})
    body = done.json()
    assert done.status_code == 200 and (body["status"], body["outcome"], body["note"]) == (
        "closed",
        "kept",
        "called, will visit",
    )
    assert body["closed_by"] == str(AGENT_B) and body["closed_at"] is not None
    closed = await client.get("/retention/actions", params={"status": "closed", "outcome": "kept"})
    assert [item["id"] for item in closed.json()["items"]] == [action_id]
    assert ids["steady_b"] == uuid.UUID(body["customer_id"])
    # once closed, the outcome stays: another is a conflict, the same one or nothing is no new version
    owner = {**as_agent(AGENT_B), "If-Match": '"3"'}
    changed = await client.patch(path, json={"outcome": "won_back"}, headers=owner)
    assert changed.status_code == 409 and changed.json()["code"] == "retention_action_closed", changed.text
    for same in ({"outcome": "kept"}, {}):
        again = await client.patch(path, json=same, headers=owner)
        assert again.status_code == 200 and again.headers["etag"] == '"3"', again.text
        assert again.json()["closed_at"] == body["closed_at"]


async def test_a_purchase_wins_a_lost_customer_back(db: Maker, client: httpx.AsyncClient) -> None:
    ids = await opened_for_everyone(db)
    before = order(ids["gone"], "10.00", NOW - timedelta(days=1))  # before the action: not a win
    retained = order(ids["steady_a"], "10.00", NOW + timedelta(days=2))  # a retain action stays open
    await apply(db, before, retained)
    assert {a.status for a in await actions(db)} == {"open"}
    won = order(ids["gone"], "35.00", NOW + timedelta(days=3))
    await apply(db, won, won)  # a replay changes nothing more
    by_customer = {a.customer_id: a for a in await actions(db)}
    gone = by_customer[ids["gone"]]
    assert (gone.status, gone.outcome, gone.closed_by) == ("closed", "won_back", f"order:{won.data['id']}")
    assert gone.closed_at == NOW + timedelta(days=3) and gone.version == 2
    assert by_customer[ids["steady_a"]].status == "open"
    refund = {"id": str(uuid.uuid4()), "customer_id": str(ids["steady_b"]), "occurred_at": (NOW + timedelta(days=4))}
    refund |= {"occurred_at": refund["occurred_at"].isoformat(), "amount": "-5.00", "currency": "CNY"}
    await apply(db, event("order.refunded", {**refund, "refund_of": won.data["id"]}))
    assert by_customer[ids["steady_b"]].status == "open"


# --- churn reasons --------------------------------------------------------------------------------------


async def test_account_managers_record_churn_reasons(client: httpx.AsyncClient, db: Maker) -> None:
    ids = await shop(db)
    path = f"/customers/{ids['gone']}/churn-reasons"
    made = await client.post(path, json={"code": "price", "note": "found it cheaper"}, headers=as_agent(AGENT_A))
    assert made.status_code == 201, made.text
    assert (made.json()["code"], made.json()["source"], made.json()["recorded_by"]) == ("price", "manual", str(AGENT_A))
    assert made.headers["location"] == path
    assert (await client.post(path, json={"code": "too_expensive"})).status_code == 422
    assert (await client.post(path, json={"code": "price", "source": "exit_survey"})).status_code == 422
    assert (await client.post(path, json={"code": "price"}, headers=as_agent(AGENT_B))).status_code == 404
    assert (await client.get(path, headers=as_agent(AGENT_B))).status_code == 404
    assert (await client.post(f"/customers/{uuid.uuid4()}/churn-reasons", json={"code": "price"})).status_code == 404
    analyst = internal_headers(role="analyst")
    assert (await client.post(path, json={"code": "price"}, headers=analyst)).status_code == 403
    keyed = {"Idempotency-Key": "reason-1"}
    first = await client.post(path, json={"code": "service"}, headers=keyed)
    retried = await client.post(path, json={"code": "service"}, headers=keyed)
    assert first.status_code == retried.status_code == 201 and first.json()["id"] == retried.json()["id"]
    listed = await client.get(path, headers=as_agent(AGENT_A))
    assert listed.status_code == 200
    assert [item["code"] for item in listed.json()["items"]] == ["service", "price"]
    assert (await client.get(path, headers=analyst)).status_code == 200


async def test_exit_survey_answers_become_reasons(client: httpx.AsyncClient, db: Maker) -> None:
    ids = await shop(db)
    response_id = uuid.uuid4()
    answered = event(
        "survey.responded",
        {
            "response_id": str(response_id),
            "survey_id": str(uuid.uuid4()),
            "survey_kind": "exit",
            "customer_id": str(ids["gone"]),
            "responded_at": (NOW - timedelta(days=2)).isoformat(),
            "scores": {"nps": None, "csat": None, "satisfaction_index": None},
            "churn_reasons": ["competitor", "price", "teleported"],
        },
    )
    await apply(db, answered)
    await apply(db, answered)  # a replay records nothing twice
    listed = (await client.get(f"/customers/{ids['gone']}/churn-reasons")).json()["items"]
    assert sorted((item["code"], item["source"], item["response_id"]) for item in listed) == [
        ("competitor", "exit_survey", str(response_id)),
        ("other", "exit_survey", str(response_id)),
        ("price", "exit_survey", str(response_id)),
    ]
    assert {item["note"] for item in listed if item["code"] == "other"} == {"exit survey reason teleported"}


# --- analytics ------------------------------------------------------------------------------------------


async def test_churn_analytics_count_reasons_and_win_back_rates(
    client: httpx.AsyncClient, db: Maker, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = await opened_for_everyone(db)
    # reasons are recorded, and actions closed, at the server's now: the test's clock, not the machine's
    monkeypatch.setattr("crm_scoring.reasons.service.utcnow", lambda: NOW)
    monkeypatch.setattr("crm_scoring.retention.service.utcnow", lambda: NOW)
    await client.post(f"/customers/{ids['gone']}/churn-reasons", json={"code": "price"})
    await client.post(f"/customers/{ids['steady_a']}/churn-reasons", json={"code": "service"})
    survey = {"response_id": str(uuid.uuid4()), "customer_id": str(ids["steady_b"])}
    survey |= {"responded_at": NOW.isoformat(), "churn_reasons": ["price"]}
    await apply(db, event("survey.responded", survey))
    await apply(db, order(ids["gone"], "35.00", NOW + timedelta(days=1)))  # won back
    b_action = (await client.get("/retention/actions", params={"owner_id": str(AGENT_B)})).json()["items"][0]
    lost = await client.patch(
        f"/retention/actions/{b_action['id']}", json={"outcome": "lost"}, headers={"If-Match": '"1"'}
    )
    assert lost.status_code == 200
    start, end = NOW - timedelta(days=30), NOW + timedelta(days=30)
    monkeypatch.setattr("crm_scoring.analytics.router.utcnow", lambda: end)
    view = await client.get("/analytics/churn", params={"from": start.isoformat(), "to": end.isoformat()})
    assert view.status_code == 200, view.text
    body = view.json()
    assert body["recorded_reasons"] == [
        {"code": "price", "count": 2, "manual": 1, "exit_survey": 1},
        {"code": "service", "count": 1, "manual": 1, "exit_survey": 0},
    ]
    assert body["reason_sources"] == {"manual": 2, "exit_survey": 1}
    assert body["win_back"]["by_countermeasure"] == [
        {"countermeasure": "retain", "closed": 1, "won_back": 0, "rate": 0.0},
        {"countermeasure": "win_back", "closed": 1, "won_back": 1, "rate": 1.0},
    ]
    assert body["win_back"]["by_value_segment"] == [
        {"value_segment": "growth_potential", "closed": 1, "won_back": 0, "rate": 0.0},
        {"value_segment": "low_value", "closed": 1, "won_back": 1, "rate": 1.0},
    ]
    assert "lost_count" in body and "reasons" in body and "estimated_loss" in body  # the fields it had
    earlier = await client.get(
        "/analytics/churn", params={"from": (start - timedelta(days=90)).isoformat(), "to": start.isoformat()}
    )
    assert earlier.json()["recorded_reasons"] == [] and earlier.json()["win_back"]["by_countermeasure"] == []


def test_due_dates_are_days_after_creation() -> None:
    stamp = bulk_repo.Stamp.of(ScoringSettings(retention_due_days=3), run_id=None, as_of=NOW, scored_at=NOW)
    assert stamp.action_due_date == date(2026, 11, 29)
    assert stamp.countermeasures == {
        segment: measure for segment, measure in ScoringSettings().countermeasures.items() if measure != "maintain"
    }


async def test_erasure_blanks_notes_and_a_merge_moves_reasons_and_actions(client: httpx.AsyncClient, db: Maker) -> None:
    ids = await opened_for_everyone(db)
    gone_action = (await client.get("/retention/actions", params={"customer_id": str(ids["gone"])})).json()["items"][0]
    noted = await client.patch(
        f"/retention/actions/{gone_action['id']}", json={"note": "lives at 5 Elm St"}, headers={"If-Match": '"1"'}
    )
    assert noted.status_code == 200
    await client.post(f"/customers/{ids['gone']}/churn-reasons", json={"code": "relocated", "note": "moved to Elm St"})
    await apply(db, event("customer.erased", {"id": str(ids["gone"])}, version=2))
    assert all(a.note is None for a in await actions(db))
    async with db() as session:
        notes = (await session.scalars(select(ChurnReason.note).where(ChurnReason.customer_id == ids["gone"]))).all()
    assert notes == [None]
    # steady_b merges into steady_a: both had an open action; the survivor keeps one open
    await client.post(f"/customers/{ids['steady_b']}/churn-reasons", json={"code": "price"})
    merged = {"survivor_id": str(ids["steady_a"]), "duplicate_id": str(ids["steady_b"])}
    await apply(db, event("customer.merged", merged, aggregate=ids["steady_a"]))
    survivor = [a for a in await actions(db) if a.customer_id == ids["steady_a"]]
    assert sorted(a.status for a in survivor) == ["closed", "open"]
    reasons = (await client.get(f"/customers/{ids['steady_a']}/churn-reasons")).json()["items"]
    assert [r["code"] for r in reasons] == ["price"]
    listed = (await client.get("/retention/actions", params={"status": "open"})).json()["items"]
    assert sorted(item["customer_id"] for item in listed) == sorted([str(ids["gone"]), str(ids["steady_a"])])
    # the undo gives steady_b back exactly its reason and its action; steady_a keeps its own
    await apply(db, event("customer.unmerged", merged, aggregate=ids["steady_a"], version=2))
    back = (await client.get(f"/customers/{ids['steady_b']}/churn-reasons")).json()["items"]
    assert [r["code"] for r in back] == ["price"]
    assert (await client.get(f"/customers/{ids['steady_a']}/churn-reasons")).json()["items"] == []
    by_customer = Counter(a.customer_id for a in await actions(db))
    assert by_customer == {ids["gone"]: 1, ids["steady_a"]: 1, ids["steady_b"]: 1}
    async with db() as session:
        assert (await session.scalars(select(MergeMove))).all() == []
    # merged again, the log starts afresh
    await apply(db, event("customer.merged", merged, aggregate=ids["steady_a"], version=3))
    assert Counter(a.customer_id for a in await actions(db))[ids["steady_a"]] == 2


async def test_actions_of_deleted_customers_leave_the_list(client: httpx.AsyncClient, db: Maker) -> None:
    ids = await opened_for_everyone(db)
    await apply(db, event("customer.deleted", {"id": str(ids["gone"])}, version=2))
    listed = (await client.get("/retention/actions")).json()["items"]
    assert str(ids["gone"]) not in {item["customer_id"] for item in listed} and len(listed) == 2
