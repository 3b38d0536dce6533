"""Every event that changes a statistic changes it: a customer fed a stream of recordings,
refunds, corrections and deletions has the statistics of one rebuilt from the final state alone."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import numpy as np
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_chassis.events import Event
from crm_scoring.readmodel import stats_repository as stats_repo
from crm_scoring.scores import service as score_service
from crm_scoring.settings.schemas import ScoringSettings
from crm_scoring.testing import NOW, apply, customer, event

Maker = async_sessionmaker[AsyncSession]
SETTINGS = ScoringSettings()


@dataclass
class Record:
    """An order or a contact as the customer service holds it, with its version."""

    id: uuid.UUID
    data: dict[str, Any]
    version: int = 1
    deleted: bool = False


@dataclass
class Truth:
    """What the customer service holds for one customer after a stream of changes."""

    customer_id: uuid.UUID
    orders: dict[uuid.UUID, Record] = field(default_factory=dict)
    contacts: dict[uuid.UUID, Record] = field(default_factory=dict)

    def rebuilt_for(self, other: uuid.UUID) -> list[Event]:
        """The live records' first events for `other`, with their final values."""
        out: list[Event] = []
        ids = {o.id: uuid.uuid4() for o in self.orders.values()}
        live = [o for o in self.orders.values() if not o.deleted]
        for o in sorted(live, key=lambda o: o.data.get("refund_of") is not None):  # purchases first
            data = {**o.data, "id": str(ids[o.id]), "customer_id": str(other)}
            if data.get("refund_of"):
                data["refund_of"] = str(ids[uuid.UUID(data["refund_of"])])
            out.append(event("order.refunded" if data.get("refund_of") else "order.recorded", data))
        for c in self.contacts.values():
            if not c.deleted:
                out.append(event("interaction.logged", {**c.data, "id": str(uuid.uuid4()), "customer_id": str(other)}))
        return out


def _order(truth: Truth, rng: random.Random, *, refund_of: Record | None = None) -> Event:
    oid = uuid.uuid4()
    when = NOW - timedelta(days=rng.randint(1, 500), hours=rng.randint(0, 23))
    amount = f"{rng.randint(0, 900)}.{rng.randint(0, 99):02d}"
    data: dict[str, Any] = {"id": str(oid), "customer_id": str(truth.customer_id), "currency": "CNY"}
    data |= {"occurred_at": when.isoformat(), "amount": amount, "margin": f"0.{rng.randint(10, 60)}"}
    if refund_of is not None:
        original = float(refund_of.data["amount"])
        data |= {"amount": f"-{rng.uniform(0.01, max(original, 0.01)):.2f}", "margin": None}
        data |= {"refund_of": str(refund_of.id), "occurred_at": refund_of.data["occurred_at"]}
    truth.orders[oid] = Record(oid, data)
    return event("order.refunded" if refund_of else "order.recorded", data)


def _contact(truth: Truth, rng: random.Random) -> Event:
    cid = uuid.uuid4()
    when = NOW - timedelta(days=rng.randint(1, 300))
    data = {"id": str(cid), "customer_id": str(truth.customer_id), "occurred_at": when.isoformat()}
    data |= {"channel": "phone", "direction": "outbound"}
    truth.contacts[cid] = Record(cid, data)
    return event("interaction.logged", data)


def _change(kind: str, record: Record, *, delete: bool, rng: random.Random) -> Event:
    record.version += 1
    if delete:
        record.deleted = True
    elif kind == "order":
        record.data = {**record.data, "margin": None if record.data.get("refund_of") else f"0.{rng.randint(10, 90)}"}
        record.data["channel"] = rng.choice(["web", "store"])
    else:
        later = datetime.fromisoformat(record.data["occurred_at"]) + timedelta(days=rng.randint(1, 30))
        record.data = {**record.data, "occurred_at": min(later, NOW).isoformat()}
    what = "deleted" if delete else "updated"
    name = f"order.{what}" if kind == "order" else f"interaction.{what}"
    return event(name, record.data, version=record.version, aggregate=record.id)


def stream(truth: Truth, rng: random.Random, steps: int) -> list[Event]:
    out: list[Event] = []
    for _ in range(steps):
        live = [o for o in truth.orders.values() if not o.deleted]
        purchases = [o for o in live if not o.data.get("refund_of")]
        contacts = [c for c in truth.contacts.values() if not c.deleted]
        move = rng.choice(["record", "record", "refund", "update", "delete", "contact", "recontact", "uncontact"])
        if move == "refund" and purchases:
            out.append(_order(truth, rng, refund_of=rng.choice(purchases)))
        elif move in ("update", "delete") and live:
            out.append(_change("order", rng.choice(live), delete=move == "delete", rng=rng))
        elif move == "contact":
            out.append(_contact(truth, rng))
        elif move in ("recontact", "uncontact") and contacts:
            out.append(_change("contact", rng.choice(contacts), delete=move == "uncontact", rng=rng))
        else:
            out.append(_order(truth, rng))
    return out


def row_of(pop: stats_repo.Population, cid: uuid.UUID) -> dict[str, Any]:
    i = pop.ids.index(cid)
    return {**{name: float(values[i]) for name, values in pop.columns.items()}, "contact": pop.last_contact_at[i]}


def assert_same(got: dict[str, Any], want: dict[str, Any]) -> None:
    assert got["contact"] == want["contact"]
    for name in want:
        if name != "contact":
            np.testing.assert_allclose(got[name], want[name], rtol=1e-9, atol=1e-6, err_msg=name, equal_nan=True)


@pytest.mark.parametrize("seed", range(4))
async def test_a_stream_of_changes_gives_the_statistics_of_a_rebuild(db: Maker, seed: int) -> None:
    rng = random.Random(seed)
    fed, rebuilt = uuid.uuid4(), uuid.uuid4()
    truth = Truth(fed)
    events = stream(truth, rng, 60)
    assert {e.type for e in events} >= {"order.recorded", "order.updated", "order.deleted", "interaction.deleted"}
    await apply(db, customer(fed), customer(rebuilt), *events)
    await apply(db, *truth.rebuilt_for(rebuilt))
    for ids in ([fed, rebuilt], None):  # the per-customer and the full-population path
        async with db.begin() as session:
            pop = await stats_repo.load(session, as_of=NOW, settings=SETTINGS, ids=ids)
        assert_same(row_of(pop, fed), row_of(pop, rebuilt))


@pytest.mark.parametrize("kind", ["order.recorded", "order.refunded", "order.updated", "order.deleted"])
async def test_each_order_event_changes_the_statistics_as_a_rebuild_does(db: Maker, kind: str) -> None:
    rng = random.Random(kind)
    fed, rebuilt = uuid.uuid4(), uuid.uuid4()
    truth = Truth(fed)
    first = [_order(truth, rng), _order(truth, rng)]
    purchase = truth.orders[uuid.UUID(first[0].data["id"])]
    await apply(db, customer(fed), customer(rebuilt), *first)
    async with db.begin() as session:
        before = row_of(await stats_repo.load(session, as_of=NOW, settings=SETTINGS, ids=[fed]), fed)
    if kind == "order.recorded":
        last = _order(truth, rng)
    elif kind == "order.refunded":
        last = _order(truth, rng, refund_of=purchase)
    else:
        last = _change("order", purchase, delete=kind == "order.deleted", rng=rng)
    assert last.type == kind
    await apply(db, last)
    await apply(db, *truth.rebuilt_for(rebuilt))
    async with db.begin() as session:
        pop = await stats_repo.load(session, as_of=NOW, settings=SETTINGS, ids=[fed, rebuilt])
    after = row_of(pop, fed)
    assert after != before  # the event changed a statistic
    assert_same(after, row_of(pop, rebuilt))


async def test_an_older_correction_changes_nothing(db: Maker) -> None:
    rng = random.Random(5)
    fed = uuid.uuid4()
    truth = Truth(fed)
    recorded = _order(truth, rng)
    record = truth.orders[uuid.UUID(recorded.data["id"])]
    older = _change("order", record, delete=False, rng=rng)
    newer = _change("order", record, delete=True, rng=rng)
    await apply(db, customer(fed), recorded, newer, older)  # the deletion arrived first
    async with db.begin() as session:
        pop = await stats_repo.load(session, as_of=NOW, settings=SETTINGS, ids=[fed])
    assert row_of(pop, fed)["days"] == 0


async def test_a_deleted_order_leaves_the_card(client: httpx.AsyncClient, db: Maker) -> None:
    cid = uuid.uuid4()
    now = datetime.now(UTC)
    big = {"id": str(uuid.uuid4()), "customer_id": str(cid), "occurred_at": (now - timedelta(days=3)).isoformat()}
    big |= {"amount": "900.00", "currency": "CNY", "margin": "0.25"}
    small = {**big, "id": str(uuid.uuid4()), "amount": "100.00", "occurred_at": (now - timedelta(days=9)).isoformat()}
    await apply(db, customer(cid), event("order.recorded", big), event("order.recorded", small))
    async with db.begin() as session:
        await score_service.drain(session)
    card = (await client.get(f"/customers/{cid}/scores")).json()
    assert card["purchases"]["total_spend"] == "1000.00"
    await apply(db, event("order.deleted", big, version=2))
    async with db.begin() as session:
        assert await score_service.drain(session) == 1
    card = (await client.get(f"/customers/{cid}/scores")).json()
    assert card["purchases"]["total_spend"] == "100.00" and card["purchases"]["purchase_days"] == 1
