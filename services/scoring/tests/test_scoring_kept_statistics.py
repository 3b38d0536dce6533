"""Each customer's purchase statistics are kept as their events arrive (the re-scoring stores
them), so that a live run reads one row per customer instead of every order. After a random
stream of orders, refunds, corrections, deletions, merges, unmerges and erasures, the kept
statistics equal those aggregated from all the orders: at once, and as time carries purchases
across the windows' edges, where a live run computes again only the customers it must."""

from __future__ import annotations

import os
import random
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
import numpy as np
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_chassis.events import Event
from crm_scoring.readmodel import stats_repository as stats_repo
from crm_scoring.runs import service as run_service
from crm_scoring.scores import service as score_service
from crm_scoring.settings import service as settings_service
from crm_scoring.settings.schemas import ScoringSettings
from crm_scoring.testing import NOW, apply, customer, event, order

Maker = async_sessionmaker[AsyncSession]
CUSTOMERS = 24


@dataclass
class World:
    """What the customer service holds: each order's current data and version, who is merged
    into whom (with the orders the merge moved), and who was erased."""

    rng: random.Random
    customers: list[uuid.UUID]
    orders: dict[uuid.UUID, dict[str, Any]] = field(default_factory=dict)
    versions: dict[uuid.UUID, int] = field(default_factory=dict)
    deleted: set[uuid.UUID] = field(default_factory=set)
    merged: dict[uuid.UUID, tuple[uuid.UUID, list[uuid.UUID]]] = field(default_factory=dict)
    erased: set[uuid.UUID] = field(default_factory=set)
    merges: set[uuid.UUID] = field(default_factory=set)  # everyone a merge or an unmerge named
    customer_versions: dict[uuid.UUID, int] = field(default_factory=dict)

    def live_customers(self) -> list[uuid.UUID]:
        return [c for c in self.customers if c not in self.merged and c not in self.erased]

    def live_orders(self, *, purchases: bool = False) -> list[uuid.UUID]:
        return [
            oid
            for oid, data in self.orders.items()
            if oid not in self.deleted and not (purchases and data.get("refund_of"))
        ]

    def when(self) -> datetime:
        """Mostly spread over the two years the windows reach, a few just ahead (clock skew)."""
        if self.rng.random() < 0.08:
            return NOW + timedelta(minutes=self.rng.randint(1, 600))
        return NOW - timedelta(days=self.rng.randint(0, 800), hours=self.rng.randint(0, 23))

    def new_id(self) -> uuid.UUID:
        return uuid.UUID(int=self.rng.getrandbits(128), version=4)

    def record(self, cid: uuid.UUID) -> Event:
        amount = "0.00" if self.rng.random() < 0.1 else f"{self.rng.randint(1, 900)}.{self.rng.randint(0, 99):02d}"
        margin = None if self.rng.random() < 0.3 else f"0.{self.rng.randint(10, 60)}"
        oid = self.new_id()
        data = {**order(cid, amount, self.when(), margin=margin).data, "id": str(oid)}
        self.orders[oid], self.versions[oid] = data, 1
        return event("order.recorded", data)

    def refund(self, of: uuid.UUID) -> Event:
        original = self.orders[of]
        oid = self.new_id()
        data = {**original, "id": str(oid), "refund_of": str(of), "margin": None}
        data["amount"] = f"-{self.rng.uniform(0.01, max(float(original['amount']), 0.01)):.2f}"
        self.orders[oid], self.versions[oid] = data, 1
        return event("order.refunded", data)

    def change(self, oid: uuid.UUID, *, delete: bool) -> Event:
        self.versions[oid] += 1
        data = self.orders[oid]
        if delete:
            self.deleted.add(oid)
        elif not data.get("refund_of"):  # a correction: another margin, and sometimes another day
            data = {**data, "margin": f"0.{self.rng.randint(10, 90)}"}
            if self.rng.random() < 0.5:
                data["occurred_at"] = self.when().isoformat()
            self.orders[oid] = data
        kind = "deleted" if delete else "updated"
        return event(f"order.{kind}", data, version=self.versions[oid], aggregate=oid)

    def _customer_version(self, cid: uuid.UUID) -> int:
        self.customer_versions[cid] = self.customer_versions.get(cid, 1) + 1
        return self.customer_versions[cid]

    def merge(self, survivor: uuid.UUID, duplicate: uuid.UUID) -> Event:
        moved = [oid for oid, data in self.orders.items() if data["customer_id"] == str(duplicate)]
        for oid in moved:
            self.orders[oid] = {**self.orders[oid], "customer_id": str(survivor)}
        self.merged[duplicate] = (survivor, moved)
        self.merges |= {survivor, duplicate}
        data = {"survivor_id": str(survivor), "duplicate_id": str(duplicate)}
        return event("customer.merged", data, aggregate=duplicate, version=self._customer_version(duplicate))

    def unmerge(self, duplicate: uuid.UUID) -> Event:
        survivor, moved = self.merged.pop(duplicate)
        for oid in moved:
            self.orders[oid] = {**self.orders[oid], "customer_id": str(duplicate)}
        data = {
            "survivor_id": str(survivor),
            "duplicate_id": str(duplicate),
            "moved": {"orders": [str(o) for o in moved]},
        }
        return event("customer.unmerged", data, aggregate=duplicate, version=self._customer_version(duplicate))

    def erase(self, cid: uuid.UUID) -> Event:
        self.erased.add(cid)
        data = {"id": str(cid), "kind": "individual", "name": "", "owner_id": None}
        return event("customer.erased", data, aggregate=cid, version=self._customer_version(cid))

    def step(self) -> Event | None:
        """One change the customer service could send, or None for a drain of the queue."""
        live = self.live_customers()
        move = self.rng.choice(["record"] * 5 + ["refund", "update", "delete", "merge", "unmerge", "erase", "drain"])
        purchases = [o for o in self.live_orders(purchases=True) if uuid.UUID(self.orders[o]["customer_id"]) in live]
        if move == "drain":
            return None
        if move == "refund" and purchases:
            return self.refund(self.rng.choice(purchases))
        if move in ("update", "delete") and self.live_orders():
            return self.change(self.rng.choice(self.live_orders()), delete=move == "delete")
        if move == "merge" and len(live) > 3:
            survivor, duplicate = self.rng.sample(live, 2)
            return self.merge(survivor, duplicate)
        if move == "unmerge" and self.merged:
            return self.unmerge(self.rng.choice(sorted(self.merged)))
        if move == "erase" and len(live) > 4 and not self.erased:
            return self.erase(self.rng.choice(live))
        return self.record(self.rng.choice(live))


def purchase_columns(pop: stats_repo.Population) -> dict[str, Any]:
    return {"ids": pop.ids, **{name: pop.columns[name] for name in stats_repo.ORDER_COLUMNS}}


def assert_same(kept: stats_repo.Population, rebuilt: stats_repo.Population, when: str) -> None:
    got, want = purchase_columns(kept), purchase_columns(rebuilt)
    assert got["ids"] == want["ids"], when
    for name in stats_repo.ORDER_COLUMNS:
        np.testing.assert_allclose(
            got[name], want[name], rtol=1e-12, atol=1e-9, equal_nan=True, err_msg=f"{name} {when}"
        )


async def drain_all(db: Maker) -> None:
    while True:
        async with db.begin() as session:
            if not await score_service.drain(session):
                return


@pytest.mark.parametrize("seed", [int(s) for s in os.environ.get("SEEDS", "0 1 2").split()])
async def test_kept_statistics_equal_a_rebuild_after_a_random_stream(
    db: Maker, monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    monkeypatch.setattr(score_service, "utcnow", lambda: NOW)
    rng = random.Random(seed)
    world = World(rng, [uuid.UUID(int=rng.getrandbits(128), version=4) for _ in range(CUSTOMERS)])
    await apply(db, *(customer(c) for c in world.customers))
    kinds: set[str] = set()
    for _ in range(160):
        change = world.step()
        if change is None:
            await drain_all(db)
        else:
            kinds.add(change.type)
            await apply(db, change)
    assert kinds >= {"order.recorded", "order.refunded", "order.updated", "order.deleted", "customer.merged"}
    await drain_all(db)
    async with db() as session:
        settings = await settings_service.current(session)
        # the re-scoring alone kept the statistics of every customer an event named; the others
        # (no order yet) are computed by the first live run
        found = await stats_repo.stale(session, as_of=NOW, settings=settings)
    named = {uuid.UUID(data["customer_id"]) for data in world.orders.values()} | world.merges
    assert found == sorted(set(world.live_customers()) - named)
    async with db.begin() as session:
        assert await stats_repo.refresh_stale(session, as_of=NOW, settings=settings, read_at=NOW) == len(found)
    async with db() as session:
        kept = await stats_repo.load(session, as_of=NOW, settings=settings, stored=True)
        rebuilt = await stats_repo.load(session, as_of=NOW, settings=settings)
    assert len(kept) == len(world.live_customers())
    assert_same(kept, rebuilt, "at the last drain")

    # time moves on: purchases leave the RFM window, the last year and the prior year, and the
    # ones dated ahead come in; only the customers concerned are computed again
    refreshed = []
    for days in (0.1, 1, 3, 10, 31, 200, 400, 800):
        as_of = later = NOW + timedelta(days=days)
        async with db.begin() as session:
            refreshed.append(await stats_repo.refresh_stale(session, as_of=as_of, settings=settings, read_at=as_of))
        async with db() as session:
            kept = await stats_repo.load(session, as_of=as_of, settings=settings, stored=True)
            rebuilt = await stats_repo.load(session, as_of=as_of, settings=settings)
        assert_same(kept, rebuilt, f"at {later}")
    assert any(0 < n < len(kept) for n in refreshed), refreshed


async def test_other_settings_make_every_kept_statistic_out_of_date(db: Maker, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(score_service, "utcnow", lambda: NOW)
    cid = uuid.uuid4()
    await apply(db, customer(cid), order(cid, "100.00", NOW - timedelta(days=10), margin=None))
    await drain_all(db)
    settings = ScoringSettings(default_margin=0.5)
    async with db.begin() as session:
        assert await stats_repo.stale(session, as_of=NOW, settings=settings) == [cid]
        assert await stats_repo.refresh_stale(session, as_of=NOW, settings=settings, read_at=NOW) == 1
        kept = await stats_repo.load(session, as_of=NOW, settings=settings, stored=True)
    assert kept.columns["profit"].tolist() == [50.0]


async def test_statistics_read_from_older_facts_do_not_replace_newer_ones(db: Maker) -> None:
    cid = uuid.uuid4()
    await apply(db, customer(cid), order(cid, "100.00", NOW - timedelta(days=10)))
    settings = ScoringSettings()
    async with db.begin() as session:
        await stats_repo.refresh(session, as_of=NOW, settings=settings, read_at=NOW, ids=[cid])
    await apply(db, order(cid, "50.00", NOW - timedelta(days=5)))
    async with db.begin() as session:  # a slower reader that saw only the first order commits last
        await stats_repo.refresh(session, as_of=NOW, settings=settings, read_at=NOW + timedelta(seconds=1), ids=[cid])
        await stats_repo.refresh(session, as_of=NOW, settings=settings, read_at=NOW, ids=[cid])
        kept = await stats_repo.load(session, as_of=NOW, settings=settings, ids=[cid], stored=True)
    assert kept.columns["total"].tolist() == [150.0]


async def test_a_live_run_computes_again_only_what_changed(
    client: httpx.AsyncClient, db: Maker, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(run_service, "utcnow", lambda: NOW)
    monkeypatch.setattr(score_service, "utcnow", lambda: NOW)
    ids = [uuid.uuid4() for _ in range(6)]
    await apply(db, *(customer(c) for c in ids))
    await apply(db, *(order(c, f"{10 * (k + 1)}.00", NOW - timedelta(days=3 + k)) for k, c in enumerate(ids)))

    async def run(**body: Any) -> dict[str, Any]:
        job = await client.post("/scoring/runs", json=body)
        assert job.status_code == 202, job.text
        done = (await client.get(f"/scoring/runs/{job.json()['id']}")).json()
        assert done["status"] == "succeeded", done
        return dict(done["counts"])

    assert (await run())["statistics_refreshed"] == len(ids)  # none kept yet: all computed
    assert (await run())["statistics_refreshed"] == 0
    await apply(db, order(ids[0], "5.00", NOW - timedelta(days=1)))  # queues a re-scoring of ids[0]
    assert (await run())["statistics_refreshed"] == 1
    card = (await client.get(f"/customers/{ids[0]}/scores")).json()
    assert card["purchases"]["total_spend"] == "15.00"
    assert (await run(rebuild_statistics=True))["statistics_refreshed"] == len(ids)

    refused = await client.post("/scoring/runs", json={"as_of": "2026-01-01", "rebuild_statistics": True})
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["code"] == "rebuild_needs_live"
    backtest = (await client.post("/scoring/runs", json={"as_of": "2026-11-01"})).json()
    done = (await client.get(f"/scoring/runs/{backtest['id']}")).json()
    assert done["status"] == "succeeded" and done["counts"]["statistics_refreshed"] is None


async def kept_and_rebuilt(db: Maker, ids: list[uuid.UUID]) -> tuple[stats_repo.Population, stats_repo.Population]:
    await drain_all(db)
    settings = ScoringSettings()
    async with db() as session:
        kept = await stats_repo.load(session, as_of=NOW, settings=settings, ids=ids, stored=True)
        rebuilt = await stats_repo.load(session, as_of=NOW, settings=settings, ids=ids)
    return kept, rebuilt


async def test_a_refund_re_scores_its_purchase_s_customer_when_it_belongs_to_someone_else(
    db: Maker, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(score_service, "utcnow", lambda: NOW)
    world = World(random.Random(1), [uuid.UUID(int=k, version=4) for k in (1, 2)])
    survivor, duplicate = world.customers
    await apply(db, *(customer(c) for c in world.customers))
    purchase = world.record(duplicate)
    await apply(db, purchase, world.merge(survivor, duplicate))
    refund = world.refund(uuid.UUID(purchase.data["id"]))  # recorded against the survivor
    await apply(db, refund, world.unmerge(duplicate))  # the purchase goes back, the refund stays
    await drain_all(db)
    await apply(db, world.change(uuid.UUID(refund.data["id"]), delete=True))  # the purchase counts in full again
    kept, rebuilt = await kept_and_rebuilt(db, [duplicate])
    assert_same(kept, rebuilt, "the purchase's customer")
    assert kept.columns["total"].tolist() == [float(purchase.data["amount"])]


async def test_an_unmerge_re_scores_whoever_holds_the_moved_orders(db: Maker, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(score_service, "utcnow", lambda: NOW)
    world = World(random.Random(2), [uuid.UUID(int=k, version=4) for k in (1, 2, 3)])
    first, second, third = world.customers
    await apply(db, *(customer(c) for c in world.customers))
    await apply(db, world.record(third), world.record(third), world.record(first))
    await apply(db, world.merge(second, third), world.merge(first, second))  # third's orders now with first
    await drain_all(db)
    await apply(db, world.unmerge(third))  # names second as the survivor; first held the orders
    kept, rebuilt = await kept_and_rebuilt(db, [first, third])
    assert_same(kept, rebuilt, "the holder and the duplicate")
