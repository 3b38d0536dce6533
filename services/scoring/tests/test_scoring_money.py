"""Honest money: the loss of a lost customer, P_t that follows retention, cost to serve, model
quality on the card, and segments that agree with churn risk."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import numpy as np
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_scoring.models import segments
from crm_scoring.readmodel import stats_repository as stats_repo
from crm_scoring.scores import bulk_repository as bulk_repo
from crm_scoring.scores import cards, engine
from crm_scoring.scores.models import customer_score
from crm_scoring.settings.schemas import ScoringSettings
from crm_scoring.testing import NOW, apply, customer, event, order, score_row

Maker = async_sessionmaker[AsyncSession]


async def _run(client: httpx.AsyncClient) -> dict[str, Any]:
    started = await client.post("/scoring/runs", json={})
    assert started.status_code == 202, started.text
    job = (await client.get(f"/scoring/runs/{started.json()['id']}")).json()
    assert job["status"] == "succeeded", job
    return job


async def _shop(db: Maker, now: datetime) -> dict[str, uuid.UUID]:
    """Regulars who kept buying, and one who stopped two years ago (lost by inactivity)."""
    ids = {f"r{k}": uuid.uuid4() for k in range(8)} | {"gone": uuid.uuid4()}
    events = [customer(cid) for cid in ids.values()]
    for k in range(8):
        events += [order(ids[f"r{k}"], f"{50 + 10 * k}.00", now - timedelta(days=20 * j + k + 1)) for j in range(30)]
    events += [order(ids["gone"], "300.00", now - timedelta(days=730 + 25 * j)) for j in range(6)]
    await apply(db, *events)
    return ids


async def test_a_customer_lost_by_inactivity_has_a_named_loss_that_is_not_zero(
    client: httpx.AsyncClient, db: Maker
) -> None:
    now = datetime.now(UTC)
    ids = await _shop(db, now)
    await _run(client)
    card = (await client.get(f"/customers/{ids['gone']}/scores")).json()
    assert card["lifecycle_suggestion"] == "lost"
    part = card["churn_risk"]
    # never scored as not lost: the yearly profit × the expected years within the horizon
    assert part["loss_basis"] == "yearly_profit_x_remaining_years" and Decimal(part["estimated_loss"]) > 0
    assert "yearly profit" in part["explanation"]
    churned = (
        await client.get(
            "/analytics/churn",
            params={"from": (now - timedelta(days=800)).isoformat(), "to": now.isoformat(), "limit": 1},
        )
    ).json()
    assert churned["lost_count"] == 1 and Decimal(churned["estimated_loss"]) == Decimal(part["estimated_loss"])
    (item,) = churned["items"]
    assert item["customer_id"] == str(ids["gone"]) and item["loss_basis"] == "yearly_profit_x_remaining_years"
    assert item["estimated_loss"] == part["estimated_loss"] and "inactive" in item["reasons"]
    assert churned["next_cursor"] is None and churned["loss_bases"] == {"yearly_profit_x_remaining_years": 1}
    regular = (await client.get(f"/customers/{ids['r0']}/scores")).json()["churn_risk"]
    assert regular["estimated_loss"] is None and regular["loss_basis"] is None


@pytest.mark.parametrize("path", ["rows", "bulk"])
async def test_the_clv_before_the_loss_is_kept_once_lost(db: Maker, database_url: str, path: str) -> None:
    if path == "bulk" and not database_url.startswith("postgresql"):
        pytest.skip("binary COPY is PostgreSQL's")
    cid = uuid.uuid4()
    await apply(db, customer(cid), order(cid, "80.00", NOW - timedelta(days=30)))
    settings = ScoringSettings()
    async with db.begin() as session:
        pop = await stats_repo.load(session, as_of=NOW, settings=settings, ids=[cid])
    columns = bulk_repo.staged(engine.score(pop, {}, settings))
    stamp = bulk_repo.Stamp.of(settings, run_id=None, as_of=NOW, scored_at=NOW)
    alive = dict(columns, clv_before_loss=np.array([51234.0]), lifecycle_suggestion=np.array([None], dtype=object))
    lost = dict(columns, clv_before_loss=np.array([np.nan]), lifecycle_suggestion=np.array(["lost"], dtype=object))
    back = dict(columns, clv_before_loss=np.array([7000.0]), lifecycle_suggestion=np.array([None], dtype=object))
    kept = []
    for staged in (alive, lost, lost, back):
        async with db.begin() as session:
            if path == "rows":
                await bulk_repo._upsert_rows(session, bulk_repo.rows(pop.ids, staged, stamp), stamp)
            else:
                await bulk_repo._copy_and_upsert(session, pop.keys, staged, stamp)
        async with db() as session:
            kept.append(await session.scalar(select(customer_score.c.clv_before_loss)))
    assert kept == [Decimal("512.34"), Decimal("512.34"), Decimal("512.34"), Decimal("70.00")]
    async with db() as session:
        row = (await session.execute(select(customer_score))).one()._mapping
    ctx = cards.Context.of(None, settings)
    card = cards.card({**row, "lifecycle_suggestion": "lost", "clv_before_loss": Decimal("512.34")}, ctx)
    assert card.model_dump()["churn_risk"]["estimated_loss"] == "512.34"
    assert card.model_dump()["churn_risk"]["loss_basis"] == "clv_before_loss"


async def test_p_t_follows_the_customers_retention(client: httpx.AsyncClient, db: Maker) -> None:
    ids = await _shop(db, datetime.now(UTC))
    await _run(client)
    card = (await client.get(f"/customers/{ids['r3']}/scores")).json()["clv"]
    r, terms = card["retention_rate"], card["terms"]
    assert card["retention_basis"] == "model" and 0 < r < 1
    assert [t["year"] for t in terms] == [1, 2, 3] and terms[0]["profit"] == card["annual_profit"]
    p1 = Decimal(card["annual_profit"])
    for t in terms:
        assert Decimal(t["profit"]) == pytest.approx(p1 * Decimal(r) ** (t["year"] - 1), abs=Decimal("0.01"))
        assert f"{t['profit']}/(1+0.1)^{t['year']}" in card["explanation"]
    assert Decimal(terms[1]["profit"]) < Decimal(terms[0]["profit"])
    total = sum(Decimal(t["discounted"]) for t in terms)
    assert Decimal(card["discounted"]) == pytest.approx(total, abs=Decimal("0.03"))


async def test_cost_to_serve_comes_from_concessions_complaints_service_records_and_contacts(db: Maker) -> None:
    cid, plain = uuid.uuid4(), uuid.uuid4()
    at = NOW - timedelta(days=40)
    old = NOW - timedelta(days=500)  # outside the last 365 days: in the yearly profit, not in P1
    concession = {"id": str(uuid.uuid4()), "customer_id": str(cid), "kind": "voucher", "value": "12.50"}
    events = [customer(cid), customer(plain)]
    events += [order(who, "200.00", at, margin="0.30") for who in (cid, plain)]
    events += [order(who, "100.00", old, margin="0.30") for who in (cid, plain)]
    events += [
        event("concession.granted", concession, at=at),
        event("concession.granted", {**concession, "id": str(uuid.uuid4()), "value": "4.00"}, at=old),
    ]
    complaint = {"id": str(uuid.uuid4()), "customer_id": str(cid), "status": "open", "opened_at": at.isoformat()}
    events += [event("complaint.created", complaint)]
    record = {"id": str(uuid.uuid4()), "customer_id": str(cid), "type": "repair", "service_date": at.date().isoformat()}
    events += [event("service_record.recorded", record)]
    for when in (at, at + timedelta(days=1), old):
        contact = {"id": str(uuid.uuid4()), "customer_id": str(cid), "occurred_at": when.isoformat()}
        events.append(event("interaction.logged", {**contact, "channel": "phone"}))
    await apply(db, *events)
    settings = ScoringSettings(cost_per_complaint=10, cost_per_service_record=5, cost_per_contact=2)
    async with db.begin() as session:
        pop = await stats_repo.load(session, as_of=NOW, settings=settings, ids=[cid, plain])
    scores = engine.score(pop, {}, settings)
    i, j = pop.ids.index(cid), pop.ids.index(plain)
    assert scores["cost_to_serve"][i] == pytest.approx(12.50 + 10 + 5 + 2 * 2)
    assert scores["cost_to_serve"][j] == 0
    assert scores["annual_profit"][j] == pytest.approx(200 * 0.30)
    assert scores["annual_profit"][i] == pytest.approx(200 * 0.30 - 31.50)
    # the yearly profit over the whole relationship (500 days: 1.37 years) counts every cost
    years = 500 / 365.25
    whole = 300 * 0.30 - (31.50 + 4.00 + 2)
    assert scores["yearly_profit"][i] == pytest.approx(whole / years, rel=0.01)


def _fit(converged: bool = True, **errors: float | None) -> dict[str, Any]:
    params = {"r": 0.24, "alpha": 4.4, "a": 0.79, "b": 2.4}
    ses: dict[str, float | None] = {"r": 0.01, "alpha": 0.3, "a": 0.2, "b": 0.9}
    return {
        "params": params,
        "standard_errors": ses | errors,
        "converged": converged,
        "message": "" if converged else "ABNORMAL_TERMINATION_IN_LNSRCH",
    }


def _card(model: dict[str, Any]) -> dict[str, Any]:
    settings = ScoringSettings()
    full = {"settings": settings.model_dump(), "time_unit": "weeks", **model}
    return cards.card(score_row(), cards.Context.of(full, settings)).model_dump()


def test_an_unreliable_fit_marks_the_values_it_makes() -> None:
    good = _card(
        {
            "bgnbd": _fit(),
            "gamma_gamma": {
                **_fit(),
                "params": {"p": 6.0, "q": 3.9, "v": 15.4},
                "standard_errors": {"p": 0.4, "q": 0.3, "v": 2.0},
            },
        }
    )
    for part in ("p_alive", "expected_purchases", "clv", "churn_risk"):
        assert good[part]["quality"] == "reliable" and good[part]["quality_reasons"] == []
    unconverged = _card({"bgnbd": _fit(converged=False), "gamma_gamma": None})
    assert unconverged["p_alive"]["quality"] == "unreliable"
    assert "did not converge (ABNORMAL_TERMINATION_IN_LNSRCH)" in unconverged["p_alive"]["quality_reasons"][0]
    assert unconverged["clv"]["quality"] == "unreliable"
    assert any("gamma_gamma" in reason for reason in unconverged["clv"]["quality_reasons"])
    wide = _card({"bgnbd": _fit(b=3.1), "gamma_gamma": None})
    assert wide["churn_risk"]["quality"] == "unreliable"
    assert "standard error of b (3.1) exceeds its estimate (2.4)" in wide["churn_risk"]["quality_reasons"][0]
    unknown = _card({"bgnbd": _fit(a=None), "gamma_gamma": None})
    assert "standard error of a is not estimable" in unknown["expected_purchases"]["quality_reasons"][0]
    assert _card({})["p_alive"]["quality"] == "no_model"


def test_an_at_risk_customer_is_neither_loyal_long_term_nor_profitable_big() -> None:
    has = np.array([True] * 4)
    abc = np.array(["A", "A", "B", "A"])
    kind = np.array([None, None, None, None], dtype=object)
    loyalty = np.array(["loyal", "repeat", "long_term", "long_term"], dtype=object)
    clv = np.array([1.0, 1.0, 1.0, 1.0])
    at_risk = np.array([True, True, True, False])
    segment, rule = segments.value_segment(has, abc, kind, loyalty, clv, None, at_risk=at_risk)
    assert segment.tolist() == ["loyal_at_risk", "big_at_risk", "loyal_at_risk", "loyal_long_term"]
    assert rule.tolist() == ["long_term_ab_at_risk", "class_a_at_risk", "long_term_ab_at_risk", "long_term_ab"]
    assert set(segments.SEGMENT_TABLE["big_at_risk"]) and segments.SEGMENT_TABLE["loyal_at_risk"][1] == "retain"


async def test_no_scored_customer_at_risk_keeps_a_keep_segment(client: httpx.AsyncClient, db: Maker) -> None:
    ids = await _shop(db, datetime.now(UTC))
    # the biggest regular turns away: an unresolved complaint and a detractor's answer
    big = ids["r7"]
    complaint = {"id": str(uuid.uuid4()), "customer_id": str(big), "status": "open"}
    complaint["opened_at"] = (datetime.now(UTC) - timedelta(days=2)).isoformat()
    answer = {
        "response_id": str(uuid.uuid4()),
        "customer_id": str(big),
        "scores": {"nps": 1, "satisfaction_index": 0.2},
    }
    answer["responded_at"] = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    await apply(db, event("complaint.created", complaint), event("complaint.sla_breached", complaint))
    await apply(db, event("survey.responded", answer))
    await _run(client)
    listed = (await client.get("/scores", params={"limit": 100})).json()["items"]
    threshold = ScoringSettings().churn_warning_threshold
    risky = [i for i in listed if i["churn_risk"] is not None and i["churn_risk"] >= threshold]
    assert str(big) in {i["customer_id"] for i in risky}
    assert not {i["value_segment"] for i in risky} & {"loyal_long_term", "profitable_big"}
    card = (await client.get(f"/customers/{big}/scores")).json()["value_segment"]
    assert card["name"] in ("loyal_at_risk", "big_at_risk") and card["strategy"] == "retain"
