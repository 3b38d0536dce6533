"""`POST /customers/batch`: up to 1,000 customers, each created (or, in `upsert` mode, updated) on its own.

`create` mode is `POST /customers` per item: a repost of a partner's `external_ref` that repeats
its fields is `existing`, one with other values a `conflict`. `upsert` mode matches items by
`external_ref` among the customers the caller can see: a match is updated with the fields the item
sends (`updated`, or `existing` when nothing changed), anything else is created. A partner's sync
knows no versions, so an upsert does not ask for If-Match.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import ValidationError

from crm_chassis.errors import AppError
from crm_chassis.identity import Principal
from crm_customer import access, batch
from crm_customer.batch import BatchItemResult, BatchStatus
from crm_customer.customers import bulk as customer_bulk
from crm_customer.customers import repository as customer_repo
from crm_customer.customers import service as customer_service
from crm_customer.customers.models import Customer
from crm_customer.customers.schemas import CustomerCreate, CustomerUpdate
from crm_customer.db import IntegrityError, Session, savepoint


class BatchMode(StrEnum):
    create = "create"
    upsert = "upsert"


async def record(
    session: Session,
    *,
    items: list[dict[str, object]],
    mode: BatchMode,
    atomic: bool,
    phone_region: str,
    principal: Principal,
) -> list[BatchItemResult]:
    return await batch.apply(session, lambda: _apply(session, items, mode, phone_region, principal), atomic=atomic)


async def _apply(
    session: Session, items: list[dict[str, object]], mode: BatchMode, phone_region: str, principal: Principal
) -> list[BatchItemResult]:
    """New customers through the bulk path together; in `upsert` mode, an item whose external_ref
    names a customer the caller sees, or one an earlier item of the call sends, is applied after
    them, one by one in request order, so that it updates that customer."""
    results: list[BatchItemResult | None] = [None] * len(items)
    valid: list[tuple[int, CustomerCreate]] = []
    for index, item in enumerate(items):
        try:
            valid.append((index, CustomerCreate.model_validate(item)))
        except ValidationError as exc:
            results[index] = batch.invalid(index, exc)
    matched: set[str] = set()
    if mode == BatchMode.upsert:
        refs = {data.external_ref for _, data in valid if data.external_ref is not None}
        matched = set(await customer_repo.visible_live_ids_by_external_ref(session, refs, principal)) if refs else set()
    new: list[tuple[int, CustomerCreate]] = []
    later: list[tuple[int, CustomerCreate]] = []
    for index, data in valid:
        if data.external_ref is not None and data.external_ref in matched:
            later.append((index, data))
            continue
        if mode == BatchMode.upsert and data.external_ref is not None:
            matched.add(data.external_ref)  # a later item with this reference updates this one
        new.append((index, data))
    outcomes = await customer_bulk.create(
        session, [data for _, data in new], phone_region=phone_region, principal=principal
    )
    for (index, _), outcome in zip(new, outcomes, strict=True):
        results[index] = batch.result(index, outcome)
    for index, data in later:
        results[index] = await _one(session, index, data, items[index], mode, phone_region, principal)
    return [r for r in results if r is not None]


async def _one(
    session: Session,
    index: int,
    data: CustomerCreate,
    item: dict[str, object],
    mode: BatchMode,
    phone_region: str,
    principal: Principal,
) -> BatchItemResult:
    try:
        async with savepoint(session):
            customer, status = await _write(session, data, item, mode, phone_region, principal)
    except AppError as exc:
        return batch.refused(index, exc)
    except IntegrityError:
        return batch.refused(index, batch.CONCURRENT)
    return BatchItemResult(index=index, status=status, id=customer.id)


async def _write(
    session: Session,
    data: CustomerCreate,
    item: dict[str, object],
    mode: BatchMode,
    phone_region: str,
    principal: Principal,
) -> tuple[Customer, BatchStatus]:
    match = await _match(session, data, principal) if mode == BatchMode.upsert else None
    if match is None:
        customer, created = await customer_service.create(
            session, data=data, phone_region=phone_region, principal=principal
        )
        return customer, BatchStatus.created if created else BatchStatus.existing
    if match.kind != data.kind:
        raise batch.kind_mismatch(match.kind)
    before = match.version
    changes = CustomerUpdate.model_validate({k: v for k, v in item.items() if k != "kind"})
    await customer_service.update(session, customer=match, data=changes, phone_region=phone_region, principal=principal)
    return match, BatchStatus.updated if match.version != before else BatchStatus.existing


async def _match(session: Session, data: CustomerCreate, principal: Principal) -> Customer | None:
    if data.external_ref is None:
        return None
    holder_id = await customer_repo.id_by_external_ref(session, data.external_ref)
    holder = await customer_repo.get(session, holder_id) if holder_id is not None else None
    return holder if holder is not None and access.can_see(principal, holder.owner_id) else None
