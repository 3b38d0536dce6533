"""The bulk paths of a full run: statistics in SQL, binary COPY in and out, set-based writes.

The per-customer path (re-scoring a few customers) and the bulk path (a whole population on
PostgreSQL) must give the same statistics, the same stored scores and the same events.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import numpy as np
import pytest
from sqlalchemy import delete, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_chassis.testing import check_migrations_match_models
from crm_scoring import pgcopy
from crm_scoring.db import infra
from crm_scoring.models import bgnbd_predict
from crm_scoring.models.bgnbd import BgNbdParams
from crm_scoring.readmodel import stats_repository as stats_repo
from crm_scoring.runs import service as run_service
from crm_scoring.scores import bulk_repository as bulk_repo
from crm_scoring.scores import engine
from crm_scoring.scores.models import customer_score
from crm_scoring.settings.schemas import ScoringSettings
from crm_scoring.testing import NOW, apply, customer, event, order

Maker = async_sessionmaker[AsyncSession]
SETTINGS = ScoringSettings()


def postgres_only(database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("binary COPY is PostgreSQL's")


async def shop(db: Maker) -> dict[str, uuid.UUID]:
    """Customers whose statistics are known by hand (as of NOW, 2026-11-26 12:00 UTC)."""
    ids = {name: uuid.uuid4() for name in ("regular", "one_day", "refunded", "prospect", "old")}
    first = order(ids["refunded"], "40.00", NOW - timedelta(days=50))
    refund = {"id": str(uuid.uuid4()), "customer_id": str(ids["refunded"]), "occurred_at": NOW.isoformat()}
    refund |= {"amount": "-40.00", "currency": "CNY", "refund_of": first.data["id"]}
    await apply(
        db,
        *(customer(cid) for cid in ids.values()),
        # three purchase days; the first day has two orders (30 + 20), the window holds two days
        order(ids["regular"], "30.00", NOW - timedelta(days=400, hours=2)),
        order(ids["regular"], "20.00", NOW - timedelta(days=400, hours=1)),
        order(ids["regular"], "70.00", NOW - timedelta(days=100)),
        order(ids["regular"], "10.00", NOW - timedelta(days=10), margin=None),
        # two orders on one day: one purchase
        order(ids["one_day"], "15.00", NOW - timedelta(days=5, hours=3)),
        order(ids["one_day"], "25.00", NOW - timedelta(days=5, hours=1)),
        # the first purchase is refunded in full: only the second counts
        first,
        event("order.refunded", refund),
        order(ids["refunded"], "60.00", NOW - timedelta(days=20)),
        # bought after the as_of of a calibration run
        order(ids["old"], "80.00", NOW - timedelta(days=700)),
        order(ids["old"], "90.00", NOW + timedelta(days=1)),
    )
    return ids


def row_of(pop: stats_repo.Population, cid: uuid.UUID) -> dict[str, float]:
    i = pop.ids.index(cid)
    return {name: float(values[i]) for name, values in pop.columns.items()}


async def test_statistics_count_purchase_days_and_net_refunds(db: Maker) -> None:
    ids = await shop(db)
    async with db.begin() as session:
        pop = await stats_repo.load(session, as_of=NOW, settings=SETTINGS)
    assert pop.ids == sorted(pop.ids) and len(pop) == 5
    regular = row_of(pop, ids["regular"])
    assert regular["days"] == 3 and regular["total"] == pytest.approx(130.0)
    assert regular["first_amount"] == pytest.approx(50.0)  # the two orders of the first day
    assert regular["window_orders"] == 2 and regular["window_spend"] == pytest.approx(80.0)
    assert regular["first_day"] == (NOW - timedelta(days=400)).date().toordinal()
    assert regular["last_day"] == (NOW - timedelta(days=10)).date().toordinal()
    # margin 0.25 where given, the default margin where not; a year's profit leaves out day 400
    default = SETTINGS.default_margin
    assert regular["profit"] == pytest.approx(120 * 0.25 + 10 * default)
    assert regular["annual_profit"] == pytest.approx(70 * 0.25 + 10 * default)
    assert row_of(pop, ids["one_day"])["days"] == 1 and row_of(pop, ids["one_day"])["total"] == pytest.approx(40.0)
    refunded = row_of(pop, ids["refunded"])
    assert refunded["days"] == 1 and refunded["first_amount"] == pytest.approx(60.0)
    prospect = row_of(pop, ids["prospect"])
    assert prospect["days"] == 0 and np.isnan(prospect["first_day"]) and prospect["total"] == 0
    old = row_of(pop, ids["old"])
    assert old["days"] == 1 and old["total"] == pytest.approx(80.0)  # the order after as_of waits


async def test_bulk_and_per_customer_statistics_agree(db: Maker, database_url: str) -> None:
    postgres_only(database_url)
    ids = await shop(db)
    async with db.begin() as session:
        bulk = await stats_repo.load(session, as_of=NOW, settings=SETTINGS)
    async with db.begin() as session:
        each = await stats_repo.load(session, as_of=NOW, settings=SETTINGS, ids=list(ids.values()))
    assert bulk.ids == each.ids
    for name in bulk.columns:
        np.testing.assert_allclose(bulk.columns[name], each.columns[name], err_msg=name, equal_nan=True)


async def stored(db: Maker) -> dict[uuid.UUID, dict[str, Any]]:
    async with db() as session:
        rows = (await session.execute(select(customer_score))).all()
    return {r.customer_id: {k: v for k, v in r._mapping.items() if k != "scored_at"} for r in rows}


async def published(db: Maker) -> list[tuple[str, str, int, dict[str, Any]]]:
    async with db() as session:
        outbox = infra.outbox
        rows = await session.execute(
            select(outbox.c.type, outbox.c.aggregate_id, outbox.c.version, outbox.c.data).order_by(outbox.c.seq)
        )
        return sorted((t, a, v, d) for t, a, v, d in rows)


async def test_bulk_write_stores_and_publishes_what_the_row_path_does(db: Maker, database_url: str) -> None:
    postgres_only(database_url)
    await shop(db)
    async with db.begin() as session:
        pop = await stats_repo.load(session, as_of=NOW, settings=SETTINGS)
    model = engine.fit(pop, SETTINGS)
    columns = bulk_repo.staged(engine.score(pop, model, SETTINGS))
    stamp = bulk_repo.Stamp.of(SETTINGS, run_id=uuid.uuid4(), as_of=NOW, scored_at=NOW)
    # stored scores to change: another segment and no risk, so both kinds of event are published
    shifted = dict(
        columns,
        value_segment=np.where(columns["value_segment"] == None, None, "growth_potential"),  # noqa: E711
        churn_risk=np.where(np.isnan(columns["churn_risk"]), np.nan, 0.0),
        lifecycle_suggestion=np.full(len(pop), None, dtype=object),
    )

    results = []
    for path in ("rows", "bulk"):
        async with db.begin() as session:
            await session.execute(delete(customer_score))
            await session.execute(delete(infra.outbox))
        async with db.begin() as session:
            ids = pop.ids
            await bulk_repo._upsert_rows(session, bulk_repo.rows(ids, shifted, stamp), stamp)
            await session.execute(delete(infra.outbox))
        async with db.begin() as session:
            if path == "rows":
                counts = await bulk_repo._upsert_rows(session, bulk_repo.rows(pop.ids, columns, stamp), stamp)
            else:
                counts = await bulk_repo._copy_and_upsert(session, pop.keys, columns, stamp)
        results.append((counts, await stored(db), await published(db)))
    (row_counts, row_scores, row_events), (bulk_counts, bulk_scores, bulk_events) = results
    assert row_counts == bulk_counts and row_counts["segment_changed"] >= 1 and row_counts["churn_risk_raised"] >= 1
    assert row_scores == bulk_scores
    assert all(score["version"] == 2 for score in bulk_scores.values())
    assert row_events == bulk_events


async def test_copy_refuses_rows_that_do_not_fit_the_layout(db: Maker, database_url: str) -> None:
    postgres_only(database_url)
    async with db.begin() as session:
        await session.execute(text("CREATE TEMPORARY TABLE copied (id uuid, x double precision, c smallint)"))
        keys = pgcopy.uuid_bytes([uuid.UUID(int=2), uuid.UUID(int=1)])
        values = np.array([1.5, np.nan])
        await pgcopy.write(
            session, "copied", {"id": ("uuid", keys), "x": ("float8", values), "c": ("int2", np.array([3, -4]))}
        )
        stmt = select(text("id"), text("x"), text("c")).select_from(text("copied")).order_by(text("id"))
        got_keys, got_x, got_c = await pgcopy.read(session, stmt, ["uuid", "float8", "int2"])
        assert [k.tobytes() for k in got_keys] == [uuid.UUID(int=1).bytes, uuid.UUID(int=2).bytes]
        np.testing.assert_array_equal(got_x, [np.nan, 1.5])
        np.testing.assert_array_equal(got_c, [-4, 3])
        await session.execute(text("INSERT INTO copied VALUES (gen_random_uuid(), NULL, 1)"))
        with pytest.raises(pgcopy.CopyFormatError):
            await pgcopy.read(session, stmt, ["uuid", "float8", "int2"])
        with pytest.raises(pgcopy.CopyFormatError):
            await pgcopy.read(session, stmt, ["uuid", "float8"])


def test_expected_purchases_curve_matches_one_horizon_at_a_time() -> None:
    params = BgNbdParams(r=0.243, alpha=4.414, a=0.793, b=2.426)
    rng = np.random.default_rng(3)
    x = rng.integers(0, 30, 5000).astype(float)
    T = np.floor(rng.uniform(1, 104, 5000) * 7) / 7
    t_x = np.where(x > 0, np.floor(rng.uniform(0, 1, 5000) * T * 7) / 7, 0.0)
    horizons = [0.0, 4.3, 52.0]
    for horizon, curve in zip(
        horizons, bgnbd_predict.expected_purchases_curve(params, horizons, x, t_x, T), strict=True
    ):
        np.testing.assert_allclose(curve, bgnbd_predict.expected_purchases(params, horizon, x, t_x, T), rtol=1e-12)


async def test_migrations_match_the_models(database_url: str) -> None:
    postgres_only(database_url)
    await check_migrations_match_models(Path(__file__).parents[1] / "alembic.ini", database_url)


async def test_a_run_writes_in_chunks_through_several_connections(
    client: httpx.AsyncClient, db: Maker, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = await shop(db)
    gone = ids["gone"] = uuid.uuid4()  # lost as of the live run's now, whatever day it runs on
    await apply(db, customer(gone), order(gone, "10.00", datetime.now(UTC) - timedelta(days=800)))
    monkeypatch.setattr(run_service, "WRITE_CHUNK", 2)
    response = await client.post("/scoring/runs", json={})
    job = (await client.get(f"/scoring/runs/{response.json()['id']}")).json()
    assert job["status"] == "succeeded", job
    assert (job["progress"]["done"], job["progress"]["total"]) == (6, 6)
    scores = await stored(db)
    assert set(scores) == set(ids.values()) and {s["version"] for s in scores.values()} == {1}
    raised = [e for e in await published(db) if e[0] == "score.churn_risk_raised"]
    assert job["counts"]["churn_risk_raised"] == len(raised) >= 1


async def test_bulk_writes_in_one_transaction_each_store_their_own_customers(db: Maker, database_url: str) -> None:
    postgres_only(database_url)
    ids = await shop(db)
    async with db.begin() as session:
        pop = await stats_repo.load(session, as_of=NOW, settings=SETTINGS)
    columns = bulk_repo.staged(engine.score(pop, engine.fit(pop, SETTINGS), SETTINGS))
    stamp = bulk_repo.Stamp.of(SETTINGS, run_id=None, as_of=NOW, scored_at=NOW)
    lost = pop.ids.index(ids["old"])  # raises an event: written first, it must not be published again
    async with db.begin() as session:
        for start, stop in ((lost, lost + 1), (0, lost), (lost + 1, len(pop))):
            await bulk_repo.write(session, pop, columns, stamp, start=start, stop=stop)
    scores = await stored(db)
    assert set(scores) == set(pop.ids) and {s["version"] for s in scores.values()} == {1}
    events = [(kind, customer) for kind, customer, _, _ in await published(db)]
    assert events and len(events) == len(set(events))  # no customer's event published twice


async def test_a_zero_value_purchase_counts_as_a_visit_and_adds_no_spend(db: Maker) -> None:
    free_first, free_later, refunded = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    paid = order(refunded, "25.00", NOW - timedelta(days=30))
    refund = {"id": str(uuid.uuid4()), "customer_id": str(refunded), "occurred_at": NOW.isoformat()}
    refund |= {"amount": "-25.00", "currency": "CNY", "refund_of": paid.data["id"]}
    await apply(
        db,
        customer(free_first),
        customer(free_later),
        customer(refunded),
        order(free_first, "0.00", NOW - timedelta(days=90)),  # a free sample first
        order(free_first, "40.00", NOW - timedelta(days=20)),
        order(free_later, "60.00", NOW - timedelta(days=60)),
        order(free_later, "0.00", NOW - timedelta(days=3)),  # a points redemption last
        paid,
        event("order.refunded", refund),  # refunded in full: no purchase, unlike a free one
    )
    async with db.begin() as session:
        pop = await stats_repo.load(session, as_of=NOW, settings=SETTINGS, ids=[free_first, free_later, refunded])
        whole = await stats_repo.load(session, as_of=NOW, settings=SETTINGS)  # the full run's path
    for cid in (free_first, free_later, refunded):
        assert row_of(whole, cid) == pytest.approx(row_of(pop, cid), nan_ok=True)
    first = row_of(pop, free_first)
    assert (first["days"], first["total"], first["first_amount"]) == (2, pytest.approx(40.0), 0.0)
    assert first["first_day"] == (NOW - timedelta(days=90)).date().toordinal()
    later = row_of(pop, free_later)
    assert (later["days"], later["total"]) == (2, pytest.approx(60.0))
    assert later["last_day"] == (NOW - timedelta(days=3)).date().toordinal()  # recency from the free visit
    assert row_of(pop, refunded)["days"] == 0


async def test_purchase_days_are_days_of_the_business_time_zone(db: Maker) -> None:
    """07:30 and 09:00 in Shanghai are one day there, and two days in UTC (23:30 and 01:00)."""
    early = uuid.uuid4()
    morning = datetime(2026, 11, 20, 7, 30, tzinfo=ZoneInfo("Asia/Shanghai"))
    await apply(
        db,
        customer(early),
        order(early, "10.00", morning),
        order(early, "15.00", morning + timedelta(hours=1, minutes=30)),
    )
    async with db.begin() as session:
        pop = await stats_repo.load(session, as_of=NOW, settings=SETTINGS, ids=[early])
        whole = await stats_repo.load(session, as_of=NOW, settings=SETTINGS)
    for loaded in (pop, whole):
        row = row_of(loaded, early)
        assert (row["days"], row["total"]) == (1, pytest.approx(25.0))
        assert row["first_day"] == date(2026, 11, 20).toordinal()


def test_a_chunk_s_key_range_is_the_least_and_greatest_uuid() -> None:
    ids = [uuid.UUID(int=v) for v in (5, 1 << 100, (1 << 64) + 3, 1 << 127, 7 << 60)]
    assert bulk_repo.key_range(pgcopy.uuid_bytes(ids)) == (min(ids), max(ids))
