"""Lifecycle that moves: purchases and scoring's results move the stage, each move kept with its cause."""

from __future__ import annotations

import contextlib
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select

from crm_chassis.consumer import EventConsumer, OutboxSource
from crm_chassis.events import Event
from crm_chassis.testing import internal_headers, recorded_statements
from crm_customer.db import infra
from crm_customer.lifecycle import rules
from crm_customer.lifecycle.handlers import SCORE_HANDLERS, order_handlers, read_buyers

NOW = datetime.now(UTC).replace(microsecond=0)
_score_versions: dict[str, int] = {}


async def _follow_own_orders(app: Any, prepare: Any = read_buyers) -> None:
    """Run the lifecycle consumer over the service's own outbox until it has caught up (reading each
    batch's buyers at once, as the service's consumer does, unless `prepare` is None)."""
    consumer = EventConsumer(
        name="lifecycle",
        source=OutboxSource(app.state.sessionmaker, infra.outbox, app.state.outbox_signal),
        sessionmaker=app.state.sessionmaker,
        tables=infra,
        handlers=order_handlers(365),
        prepare=prepare,
    )
    while await consumer.poll_once(wait=0):
        pass


def _suggestions(customer_id: str, version: int, seq: int = 1, **data: Any) -> Event:
    """scoring's `score.suggestions_changed` for a customer, with `data` over plain defaults."""
    payload = {
        "customer_id": customer_id,
        "value_segment": None,
        "abc_class": "C",
        "churn_risk": 0.1,
        "lifecycle_suggestion": None,
        "loyalty_stage": "potential",
        "relationship_level": None,
        **data,
    }
    return Event(
        id=uuid.uuid4(),
        seq=seq,
        type="score.suggestions_changed",
        occurred_at=NOW,
        aggregate_id=customer_id,
        version=version,
        data=payload,
    )


async def _scoring_says(db: Any, customer_id: str, version: int | None = None, **data: Any) -> None:
    version = version if version is not None else _score_versions.get(customer_id, 0) + 1
    _score_versions[customer_id] = max(version, _score_versions.get(customer_id, 0))
    event = _suggestions(customer_id, version, **data)
    async with db.begin() as session:
        await SCORE_HANDLERS[event.type](session, event)


async def _customer(client: httpx.AsyncClient, **body: Any) -> str:
    created = await client.post("/customers", json={"kind": "individual", "name": "Zhang Wei", **body})
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


async def _buy(client: httpx.AsyncClient, customer_id: str, days_ago: int, amount: str = "10.00") -> str:
    when = (NOW - timedelta(days=days_ago)).isoformat()
    order = {"customer_id": customer_id, "occurred_at": when, "amount": amount, "currency": "CNY"}
    response = await client.post("/orders", json=order)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def _read(client: httpx.AsyncClient, customer_id: str) -> dict[str, Any]:
    return dict((await client.get(f"/customers/{customer_id}")).json())


async def _stage_history(client: httpx.AsyncClient, customer_id: str) -> list[tuple[Any, Any, str, str | None]]:
    items = (await client.get(f"/customers/{customer_id}/history")).json()["items"]
    return [
        (h["old"], h["new"], h["changed_by"], h["cause"]) for h in reversed(items) if h["field"] == "lifecycle_stage"
    ]


async def test_first_purchase_makes_a_customer_new_and_a_repeat_within_the_window_active(
    app: Any, client: httpx.AsyncClient, db: Any
) -> None:
    cid = await _customer(client)
    first = await _buy(client, cid, days_ago=40)
    await _follow_own_orders(app)
    record = await _read(client, cid)
    assert (record["lifecycle_stage"], record["lifecycle_set_by"]) == ("new", None)
    assert record["lifecycle_cause"] == f"first purchase (order {first})"

    second = await _buy(client, cid, days_ago=10)
    await _follow_own_orders(app)

    assert (await _read(client, cid))["lifecycle_stage"] == "active"
    assert await _stage_history(client, cid) == [
        ("prospect", "new", "rule", f"first purchase (order {first})"),
        ("new", "active", "rule", f"repeat purchase within 365 days (order {second})"),
    ]
    async with db() as session:
        updates = (
            await session.scalars(select(infra.outbox.c.data).where(infra.outbox.c.type == "customer.updated"))
        ).all()
    assert [(u["lifecycle_stage"], u["changed"]) for u in updates] == [
        ("new", ["lifecycle_stage"]),
        ("active", ["lifecycle_stage"]),
    ]


async def test_a_repeat_purchase_after_a_long_gap_and_a_refund_move_nothing(
    app: Any, client: httpx.AsyncClient
) -> None:
    cid = await _customer(client)
    first = await _buy(client, cid, days_ago=500)
    await _follow_own_orders(app)
    await _buy(client, cid, days_ago=1)  # 499 days later: outside the 365-day window
    refund = await client.post(f"/orders/{first}/refunds", json={"amount": "5.00", "occurred_at": NOW.isoformat()})
    assert refund.status_code == 201, refund.text
    await _follow_own_orders(app)

    assert (await _read(client, cid))["lifecycle_stage"] == "new"


async def test_scoring_moves_to_at_risk_and_lost_and_a_purchase_wins_back(
    app: Any, client: httpx.AsyncClient, db: Any
) -> None:
    cid = await _customer(client)
    await _buy(client, cid, days_ago=300)
    await _follow_own_orders(app)
    await _scoring_says(db, cid, lifecycle_suggestion="at_risk", churn_risk=0.62)
    assert (await _read(client, cid))["lifecycle_stage"] == "at_risk"
    await _scoring_says(db, cid, lifecycle_suggestion="lost", churn_risk=0.91)
    lost = await _read(client, cid)
    assert (lost["lifecycle_stage"], lost["lifecycle_cause"]) == ("lost", "scoring suggests lost, churn risk 0.91")

    again = await _buy(client, cid, days_ago=0)
    await _follow_own_orders(app)

    assert (await _read(client, cid))["lifecycle_stage"] == "won_back"
    assert (await _stage_history(client, cid))[-1] == (
        "lost",
        "won_back",
        "rule",
        f"purchase by a lost customer (order {again})",
    )


async def test_a_stage_set_by_hand_holds_until_the_next_rule_fires(
    app: Any, client: httpx.AsyncClient, db: Any
) -> None:
    cid = await _customer(client)
    person = internal_headers(subject="manager-7", role="admin")
    patched = await client.patch(
        f"/customers/{cid}", json={"lifecycle_stage": "active"}, headers={**person, "If-Match": '"1"'}
    )
    assert patched.status_code == 200
    assert (patched.json()["lifecycle_cause"], patched.json()["lifecycle_set_by"]) == ("set by hand", "manager-7")
    # a suggestion that is no warning leaves the person's stage alone
    await _scoring_says(db, cid, lifecycle_suggestion="active")
    assert (await _read(client, cid))["lifecycle_set_by"] == "manager-7"

    await _scoring_says(db, cid, lifecycle_suggestion="lost", churn_risk=0.8)

    record = await _read(client, cid)
    assert (record["lifecycle_stage"], record["lifecycle_set_by"]) == ("lost", None)
    assert [h[:3] for h in await _stage_history(client, cid)] == [
        ("prospect", "active", "manager-7"),
        ("active", "lost", "rule"),
    ]
    given = await client.post(
        "/customers", json={"kind": "individual", "name": "B", "lifecycle_stage": "active"}, headers=person
    )
    assert (given.json()["lifecycle_cause"], given.json()["lifecycle_set_by"]) == ("set by hand", "manager-7")
    plain = (await client.post("/customers", json={"kind": "individual", "name": "C"})).json()
    assert (plain["lifecycle_stage"], plain["lifecycle_cause"], plain["lifecycle_set_by"]) == ("prospect", None, None)


async def test_the_record_shows_scorings_suggestions_beside_the_set_fields(client: httpx.AsyncClient, db: Any) -> None:
    cid = await _customer(client, loyalty_stage="new")
    await _scoring_says(
        db,
        cid,
        version=3,
        value_segment="high_value",
        abc_class="A",
        churn_risk=0.25,
        loyalty_stage="repeat",
        relationship_level="accountable",
    )
    await _scoring_says(db, cid, version=2, value_segment="stale", abc_class="C")  # older: ignored

    record = await _read(client, cid)

    assert {k: record[k] for k in record if k.startswith("suggested_") and k != "suggested_at"} == {
        "suggested_value_segment": "high_value",
        "suggested_abc_class": "A",
        "suggested_churn_risk": 0.25,
        "suggested_lifecycle_stage": None,
        "suggested_loyalty_stage": "repeat",
        "suggested_relationship_level": "accountable",
    }
    assert (record["loyalty_stage"], record["relationship_level"]) == ("new", None)  # what people set stays
    assert record["suggested_at"] is not None


async def test_batch_orders_move_the_lifecycle_too(app: Any, client: httpx.AsyncClient) -> None:
    cid = await _customer(client)
    when = (NOW - timedelta(days=3)).isoformat()
    items = [
        {"customer_id": cid, "occurred_at": when, "amount": "0.00", "currency": "CNY", "external_ref": "P-1"},
        {
            "customer_id": cid,
            "occurred_at": NOW.isoformat(),
            "amount": "9.00",
            "currency": "CNY",
            "external_ref": "P-2",
        },
    ]
    assert (await client.post("/orders/batch", json={"items": items})).status_code == 200
    await _follow_own_orders(app)

    # both purchases are stored when the rules read the first: it is the earlier, so the first
    # purchase, and the second, three days after it, makes the customer active
    assert [h[1] for h in await _stage_history(client, cid)] == ["new", "active"]


@contextlib.contextmanager
def _selects(app: Any, table: str) -> Iterator[list[str]]:
    """The SELECTs that read `table` (in any schema) while the block runs."""
    reading = re.compile(rf"FROM (\w+\.)?{table}\s")
    with recorded_statements(app.state.sessionmaker.kw["bind"]) as seen:
        selects: list[str] = []
        yield selects
    selects += [s for s in seen if s.lstrip().startswith("SELECT") and reading.search(s + " ")]


async def test_a_batch_reads_its_buyers_once_and_moves_each_as_one_by_one_would(
    app: Any, client: httpx.AsyncClient, db: Any
) -> None:
    """Each customer's purchases within one batch of the lifecycle consumer: read for the whole batch
    with two queries, and the stages are those the per-event reads give."""

    async def shop(tag: str) -> dict[str, str]:
        first, repeat, apart, lost = [await _customer(client, name=f"{tag} {n}") for n in range(4)]
        for cid, days in ((first, 40), (repeat, 30), (repeat, 10), (apart, 600), (apart, 5), (lost, 300)):
            await _buy(client, cid, days_ago=days)
        return {"first": first, "repeat": repeat, "apart": apart, "lost": lost}

    async def stages(people: dict[str, str]) -> dict[str, Any]:
        return {name: (await _read(client, cid))["lifecycle_stage"] for name, cid in people.items()}

    with _selects(app, "sales_order") as order_reads:
        one_by_one = await shop("Alone")
        await _follow_own_orders(app, prepare=None)
    reads_alone = len(order_reads)
    with _selects(app, "sales_order") as order_reads:
        together = await shop("Batch")
        await _follow_own_orders(app)

    # "apart": the earlier purchase is the first, the later one 595 days on is no repeat
    expected = {"first": "new", "repeat": "active", "apart": "new", "lost": "new"}
    assert await stages(one_by_one) == await stages(together) == expected
    assert reads_alone == 6  # one per order
    assert len(order_reads) == 1  # one for the batch

    for people in (one_by_one, together):  # a lost customer buying again, in a batch of its own
        await _scoring_says(db, people["lost"], lifecycle_suggestion="lost", churn_risk=0.9)
        await _buy(client, people["lost"], days_ago=0)
        await _follow_own_orders(app, prepare=None if people is one_by_one else read_buyers)
    assert (await stages(one_by_one))["lost"] == (await stages(together))["lost"] == "won_back"


class _Listed:
    def __init__(self, events: list[Event]) -> None:
        self.events = events

    async def fetch(self, after: int, limit: int, wait: float) -> list[Event]:
        return [e for e in self.events if e.seq > after][:limit]


async def test_scorings_batch_reads_its_customers_once(app: Any, client: httpx.AsyncClient) -> None:
    from crm_customer.lifecycle.handlers import read_scored

    def scored(seq: int, customer_id: str, version: int, suggestion: str | None) -> Event:
        return _suggestions(customer_id, version, seq, churn_risk=0.7, lifecycle_suggestion=suggestion)

    results = {}
    for prepare in (None, read_scored):
        people = [await _customer(client, name=f"Scored {n}") for n in range(3)]
        events = [
            scored(1, people[0], 2, "at_risk"),
            scored(2, people[1], 1, "at_risk"),
            scored(3, people[1], 2, None),  # a newer scoring without a warning: the stage stays
            scored(4, people[2], 1, None),
            scored(5, people[0], 1, "lost"),  # older than the one applied: ignored
        ]
        consumer = EventConsumer(
            name=f"scored-{prepare is None}",
            source=_Listed(events),
            sessionmaker=app.state.sessionmaker,
            tables=infra,
            handlers=SCORE_HANDLERS,
            prepare=prepare,
        )
        with _selects(app, "customer") as customer_reads:
            assert await consumer.poll_once(wait=0) == 5
        results[prepare is None] = (
            [(await _read(client, cid))["lifecycle_stage"] for cid in people],
            len(customer_reads),
        )
    assert results[True][0] == results[False][0] == ["at_risk", "at_risk", "prospect"]
    assert (results[True][1], results[False][1]) == (5, 1)


def test_the_rules_on_their_own() -> None:
    day = datetime(2026, 6, 1, tzinfo=UTC)
    assert rules.after_purchase("prospect", day, [], 365) == ("new", "first purchase")
    assert rules.after_purchase("new", day, [], 365) is None
    later = day + timedelta(days=600)
    assert rules.after_purchase("prospect", day, [later], 365) == ("new", "first purchase")  # stored together
    assert rules.after_purchase("active", day, [later], 365) is None  # a backfill moves no one back
    assert rules.after_purchase("new", day, [day - timedelta(days=365)], 365) == (
        "active",
        "repeat purchase within 365 days",
    )
    assert rules.after_purchase("new", day, [day - timedelta(days=366)], 365) is None
    # a purchase recorded late, before the earlier one: no repeat "after" it
    assert rules.after_purchase("new", day, [day + timedelta(days=5)], 365) is None
    assert rules.after_purchase("lost", day, [day - timedelta(days=900)], 365)[0] == "won_back"  # type: ignore[index]
    assert rules.after_purchase("at_risk", day, [day - timedelta(days=30)], 365)[0] == "active"  # type: ignore[index]
    assert rules.after_scoring("active", "lost", None) == ("lost", "scoring suggests lost")
    assert rules.after_scoring("lost", "lost", 0.9) is None
    assert rules.after_scoring("new", "active", 0.1) is None
