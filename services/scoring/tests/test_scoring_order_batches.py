"""The customer-events consumer reads a batch's new orders at once (`read_orders`), and applies it as
it would one event at a time: replays within the batch, refunds before or after their purchase,
and purchases that win a lost customer back."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from fastapi import FastAPI
from sqlalchemy import select

from crm_chassis.consumer import EventConsumer
from crm_chassis.events import Event
from crm_chassis.testing import recorded_statements
from crm_scoring.db import infra
from crm_scoring.readmodel.activity import read_orders
from crm_scoring.readmodel.handlers import HANDLERS
from crm_scoring.readmodel.models import OrderFact
from crm_scoring.retention.models import RetentionAction
from crm_scoring.testing import NOW, Maker, apply, customer, event, order


class Listed:
    def __init__(self, events: list[Event]) -> None:
        self.events = [e.model_copy(update={"seq": n}) for n, e in enumerate(events, start=1)]

    async def fetch(self, after: int, limit: int, wait: float) -> list[Event]:
        return [e for e in self.events if e.seq > after][:limit]


def refund_of(purchase: Event, amount: str) -> Event:
    data = {"id": str(uuid.uuid4()), "customer_id": purchase.data["customer_id"], "amount": amount}
    data |= {"occurred_at": NOW.isoformat(), "currency": "CNY", "refund_of": purchase.data["id"]}
    return event("order.refunded", data)


def win_back_action(cid: uuid.UUID) -> dict[str, Any]:
    opened = NOW - timedelta(days=30)
    return {
        "id": uuid.uuid4(),
        "customer_id": cid,
        "countermeasure": "win_back",
        "suggestion": "lost",
        "status": "open",
        "created_at": opened,
        "due_date": opened.date(),
        "version": 1,
    }


async def shop(db: Maker) -> tuple[dict[str, uuid.UUID], list[Event]]:
    """Customers with orders already stored, and one batch of new ones with every case in it."""
    people = {name: uuid.uuid4() for name in ("plain", "refunded_before", "refunded_later", "lost", "twice")}
    stored = order(people["refunded_before"], "100.00", NOW - timedelta(days=9))
    await apply(db, *(customer(cid) for cid in people.values()), stored)
    async with db.begin() as session:
        session.add(RetentionAction(**win_back_action(people["lost"])))
    late = order(people["refunded_later"], "80.00", NOW - timedelta(days=2))
    early_refund = refund_of(late, "-20.00")  # reaches scoring before its purchase
    again = order(people["twice"], "15.00", NOW - timedelta(days=1))
    batch = [
        order(people["plain"], "40.00", NOW - timedelta(days=3)),
        order(people["plain"], "0.00", NOW - timedelta(days=3)),  # a free item, same day
        refund_of(stored, "-25.00"),
        early_refund,
        late,
        order(people["lost"], "60.00", NOW - timedelta(days=1)),
        again,
        again.model_copy(update={"id": uuid.uuid4()}),  # the same order again within the batch
        stored,  # a replay of an order stored before the batch
    ]
    return people, batch


async def outcome(db: Maker, people: dict[str, uuid.UUID]) -> dict[str, Any]:
    """Per customer: the net amounts of their orders (sorted), and their actions' status."""
    async with db() as session:
        facts = (await session.execute(select(OrderFact.customer_id, OrderFact.net_amount))).all()
        actions = (await session.execute(select(RetentionAction.customer_id, RetentionAction.status))).all()
    return {
        name: (
            sorted(str(net) for owner, net in facts if owner == cid),
            [status for owner, status in actions if owner == cid],
        )
        for name, cid in people.items()
    }


async def test_a_batch_of_orders_reads_once_and_ends_as_one_by_one_would(app: FastAPI, db: Maker) -> None:
    results: dict[bool, tuple[dict[str, Any], int]] = {}
    for prepared in (False, True):
        people, batch = await shop(db)
        consumer = EventConsumer(
            name=f"orders-{prepared}",
            source=Listed(batch),
            sessionmaker=db,
            tables=infra,
            handlers=HANDLERS,
            prepare=read_orders if prepared else None,
        )
        with recorded_statements(app.state.sessionmaker.kw["bind"]) as seen:
            assert await consumer.poll_once(wait=0) == len(batch)
        results[prepared] = (await outcome(db, people), len(seen))

    expected = {
        "plain": (["0.00", "40.00"], []),
        "refunded_before": (["-25.00", "75.00"], []),
        "refunded_later": (["-20.00", "60.00"], []),
        "lost": (["60.00"], ["closed"]),
        "twice": (["15.00"], []),
    }
    assert results[False][0] == results[True][0] == expected
    # per new purchase one read of the order, one of its refunds and one update of its actions less
    alone, together = results[False][1], results[True][1]
    assert together <= alone - 10, (alone, together)


async def test_a_merge_in_the_batch_sends_every_purchase_to_close_its_actions(app: FastAPI, db: Maker) -> None:
    survivor, duplicate = uuid.uuid4(), uuid.uuid4()
    await apply(db, customer(survivor), customer(duplicate))
    pair = {"survivor_id": str(survivor), "duplicate_id": str(duplicate)}
    merged = event("customer.merged", pair, aggregate=duplicate, version=2)
    async with db() as session:
        prepared = await read_orders(session, [merged, order(survivor, "10.00", NOW)])
        assert prepared.winning_back is None
        plain = await read_orders(session, [order(survivor, "10.00", NOW)])
        assert plain.winning_back == set() and len(plain.absent) == len(plain.unrefunded) == 1
