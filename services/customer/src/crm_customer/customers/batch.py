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
    async def each() -> list[BatchItemResult]:
        return [await _one(session, i, item, mode, phone_region, principal) for i, item in enumerate(items)]

    return await batch.apply(session, each, atomic=atomic)


async def _one(
    session: Session, index: int, item: dict[str, object], mode: BatchMode, phone_region: str, principal: Principal
) -> BatchItemResult:
    try:
        data = CustomerCreate.model_validate(item)
    except ValidationError as exc:
        return batch.invalid(index, exc)
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
