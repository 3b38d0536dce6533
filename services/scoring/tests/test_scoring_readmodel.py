"""The read model fed by events: idempotent, refunds netted, merges moving facts, rescoring queued."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import func, select

from crm_scoring.readmodel.models import ComplaintFact, CustomerRef, OrderFact, RescoreRequest
from crm_scoring.testing import NOW, Maker, apply, customer, event, order


async def test_orders_are_idempotent_and_refunds_net_the_original(db: Maker) -> None:
    cid = uuid.uuid4()
    purchase = order(cid, "100.00", NOW - timedelta(days=3))
    await apply(db, customer(cid), purchase, purchase)
    refund = event(
        "order.refunded",
        {
            "id": str(uuid.uuid4()),
            "customer_id": str(cid),
            "occurred_at": NOW.isoformat(),
            "amount": "-30.50",
            "currency": "CNY",
            "refund_of": purchase.data["id"],
        },
    )
    await apply(db, refund, refund)
    async with db() as session:
        original = await session.get(OrderFact, uuid.UUID(purchase.data["id"]))
        assert original is not None and original.net_amount == Decimal("69.50")
        assert await session.scalar(select(func.count()).select_from(OrderFact)) == 2
        assert await session.get(RescoreRequest, cid) is not None


async def test_merge_moves_the_duplicates_facts_to_the_survivor(db: Maker) -> None:
    survivor, duplicate = uuid.uuid4(), uuid.uuid4()
    await apply(db, customer(survivor), customer(duplicate), order(duplicate, "10.00", NOW))
    complaint = {"id": str(uuid.uuid4()), "customer_id": str(duplicate), "status": "open", "opened_at": NOW.isoformat()}
    await apply(db, event("complaint.created", complaint))
    await apply(
        db,
        event(
            "customer.merged",
            {"survivor_id": str(survivor), "duplicate_id": str(duplicate)},
            aggregate=duplicate,
            version=2,
        ),
    )
    async with db() as session:
        owners = set(await session.scalars(select(OrderFact.customer_id)))
        assert owners == {survivor}
        assert (await session.scalar(select(ComplaintFact.customer_id))) == survivor
        ref = await session.get(CustomerRef, duplicate)
        assert ref is not None and ref.merged_into == survivor


async def test_complaint_lifecycle_and_owner_change(db: Maker) -> None:
    cid, owner, new_owner = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    await apply(db, customer(cid, owner))
    complaint_id = str(uuid.uuid4())
    base = {"id": complaint_id, "customer_id": str(cid)}
    await apply(
        db,
        event("complaint.created", {**base, "status": "open", "opened_at": NOW.isoformat()}, at=NOW),
        event("complaint.sla_breached", {**base, "target": "resolution"}, at=NOW + timedelta(hours=1)),
        event("complaint.resolved", {**base, "resolved_at": NOW.isoformat()}, at=NOW + timedelta(hours=2)),
        # a late, older status change must not reopen it
        event("complaint.status_changed", {**base, "status": "in_progress"}, at=NOW + timedelta(minutes=30)),
    )
    snapshot = {"id": str(cid), "kind": "individual", "name": "Li Lei", "owner_id": str(new_owner)}
    await apply(db, event("customer.owner_changed", {**snapshot, "to_owner_id": str(new_owner)}, version=2))
    async with db() as session:
        row = await session.get(ComplaintFact, uuid.UUID(complaint_id))
        assert row is not None and row.status == "resolved" and row.sla_breached
        ref = await session.get(CustomerRef, cid)
        assert ref is not None and ref.owner_id == new_owner
