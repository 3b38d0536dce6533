"""`POST /orders/batch`: purchases and refunds, each applied on its own, in request order.

Consecutive purchases go through `orders/bulk.py` together; a refund (an item with `refund_of`
or `refund_of_external_ref`) waits for the purchases before it, so it may refund one sent earlier
in the same call, and is applied by `order_service.refund` in a savepoint of its own.
"""

from __future__ import annotations

import uuid

from pydantic import ValidationError

from crm_chassis.errors import AppError, Unprocessable
from crm_chassis.identity import Principal
from crm_customer import batch
from crm_customer.batch import BatchItemResult, BatchStatus
from crm_customer.db import IntegrityError, Session, savepoint
from crm_customer.orders import bulk as order_bulk
from crm_customer.orders import repository as order_repo
from crm_customer.orders import service as order_service
from crm_customer.orders.schemas import BatchRefund, OrderCreate

_LINKS = ("refund_of", "refund_of_external_ref")


async def record(
    session: Session, *, items: list[dict[str, object]], principal: Principal, atomic: bool
) -> list[BatchItemResult]:
    return await batch.apply(session, lambda: _apply(session, items, principal), atomic=atomic)


async def _apply(session: Session, items: list[dict[str, object]], principal: Principal) -> list[BatchItemResult]:
    results: list[BatchItemResult | None] = [None] * len(items)
    purchases: list[tuple[int, OrderCreate]] = []

    async def flush() -> None:
        outcomes = await order_bulk.record(session, [data for _, data in purchases], principal)
        for (index, _), outcome in zip(purchases, outcomes, strict=True):
            results[index] = batch.result(index, outcome)
        purchases.clear()

    for index, item in enumerate(items):
        try:
            if any(link in item for link in _LINKS):
                refund = BatchRefund.model_validate(item)
                await flush()
                results[index] = await _refund(session, index, refund, principal)
            else:
                purchases.append((index, OrderCreate.model_validate(item)))
        except ValidationError as exc:
            results[index] = batch.invalid(index, exc)
    await flush()
    return [r for r in results if r is not None]


async def _refund(session: Session, index: int, item: BatchRefund, principal: Principal) -> BatchItemResult:
    try:
        async with savepoint(session):
            purchase_id = await _purchase_id(session, item)
            refund, created = await order_service.refund(
                session, order_id=purchase_id, data=item.refund(), principal=principal
            )
    except AppError as exc:
        return batch.refused(index, exc)
    except IntegrityError:
        return batch.refused(index, batch.CONCURRENT)
    return BatchItemResult(index=index, status=BatchStatus.created if created else BatchStatus.existing, id=refund.id)


async def _purchase_id(session: Session, item: BatchRefund) -> uuid.UUID:
    if item.refund_of is not None:
        return item.refund_of
    assert item.refund_of_external_ref is not None
    purchase = await order_repo.by_external_ref(session, item.source, item.refund_of_external_ref)
    if purchase is None:
        message = f"no order with external_ref {item.refund_of_external_ref!r} in source {item.source!r}"
        raise Unprocessable.field("refund_of_external_ref", "unknown_original", message)
    return purchase.id
