"""Merging a duplicate into a survivor, in one transaction, and undoing it within a window."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from crm_chassis.db import utcnow
from crm_chassis.errors import Conflict, NotFound, Unprocessable
from crm_chassis.identity import Principal
from crm_customer import access, events
from crm_customer.customers import repository as customer_repo
from crm_customer.customers import service as customer_service
from crm_customer.customers.models import Customer, CustomerChange
from crm_customer.customers.schemas import CustomerFields
from crm_customer.db import Session
from crm_customer.merge import repository as merge_repo
from crm_customer.merge.models import CustomerMerge
from crm_customer.merge.schemas import MergeRequest, Side

LIST_FIELDS = {"tags", "hobbies", "taboos", "preferences", "business_lines", "other_contacts"}
# Fields that identify the record itself or are managed elsewhere are not merged field by field.
NOT_MERGED = {"external_ref", "owner_id", "referred_by", "is_key", "key_reason"}
# The key under which a merge lists the duplicate's tier set by hand that moved (its tier's id).
MANUAL_TIER = "manual_tier"
MERGEABLE = [name for name in CustomerFields.model_fields if name not in NOT_MERGED] + ["owner_id", "referred_by"]


def _empty(value: Any) -> bool:
    return value is None or value == [] or value == {} or value == ""


def _merged_value(name: str, kept: Any, other: Any, side: Side) -> Any:
    if name in LIST_FIELDS:
        first, second = (kept, other) if side == Side.survivor else (other, kept)
        return [*first, *[v for v in second if v not in first]]
    if name == "custom_fields":
        return {**other, **kept} if side == Side.survivor else {**kept, **other}
    return other if side == Side.duplicate else kept


async def merge(
    session: Session, *, survivor: Customer, data: MergeRequest, principal: Principal, undo_hours: int
) -> tuple[CustomerMerge, dict[str, Side]]:
    if data.duplicate_id == survivor.id:
        raise Unprocessable.field("duplicate_id", "same_customer", "a customer cannot be merged into itself")
    unknown = sorted(set(data.fields) - set(MERGEABLE))
    if unknown:
        raise Unprocessable.field("fields", "unknown_field", f"not mergeable field(s): {', '.join(unknown)}")
    await customer_repo.lock(session, [survivor.id, data.duplicate_id])
    await session.refresh(survivor)
    if survivor.deleted_at is not None:
        raise Conflict("the survivor was deleted or merged meanwhile", code="survivor_gone")
    duplicate = await customer_service.get_visible(session, customer_id=data.duplicate_id, principal=principal)
    if duplicate.kind != survivor.kind:
        raise Conflict(f"cannot merge a {duplicate.kind} into a {survivor.kind}", code="kind_mismatch")

    before: dict[str, Any] = {}
    conflicts: dict[str, Side] = {}
    for name in MERGEABLE:
        kept, other = getattr(survivor, name), getattr(duplicate, name)
        if _empty(other) or kept == other or (name == "referred_by" and other == survivor.id):
            continue
        side = data.fields.get(name, data.prefer)
        if _empty(kept):
            value = other
        else:
            if name not in LIST_FIELDS and name != "custom_fields":
                conflicts[name] = side
            value = _merged_value(name, kept, other, side)
        if value != kept:
            before[name] = customer_service.plain(kept)
            setattr(survivor, name, value)

    duplicate_ref = duplicate.external_ref
    if duplicate_ref is not None and survivor.external_ref is None:
        duplicate.external_ref = None
        await session.flush()  # the unique reference moves: free it before the survivor takes it
        before["external_ref"] = None
        survivor.external_ref = duplicate_ref

    moved: dict[str, list[str]] = {}
    for kind in merge_repo.MOVABLE:
        ids = await merge_repo.ids_held(session, kind, duplicate.id)
        if kind == "referrals":
            ids = [i for i in ids if i != survivor.id]  # the survivor must not end up referring itself
        if ids:
            await merge_repo.move(session, kind, ids, to=survivor.id)
            moved[kind] = [str(i) for i in ids]
    # A tier set by hand follows like the records when the survivor has none; where both have one
    # (different tiers), the survivor's stays and the answer lists the conflict.
    duplicate_tier = await merge_repo.manual_tier_id(session, duplicate.id)
    if duplicate_tier is not None:
        survivor_tier = await merge_repo.manual_tier_id(session, survivor.id)
        if survivor_tier is None:
            await merge_repo.move_manual_tier(session, duplicate_tier, held_by=duplicate.id, to=survivor.id)
            moved[MANUAL_TIER] = [str(duplicate_tier)]
        elif survivor_tier != duplicate_tier:
            conflicts[MANUAL_TIER] = Side.survivor

    now = utcnow()
    duplicate.merged_into = survivor.id
    duplicate.deleted_at = duplicate.updated_at = now
    survivor.updated_at = now
    customer_service.index_for_search(survivor)
    record = CustomerMerge(
        id=uuid.uuid4(),
        survivor_id=survivor.id,
        duplicate_id=duplicate.id,
        survivor_before=before,
        moved=moved,
        merged_by=principal.subject,
        merged_at=now,
        undo_until=now + timedelta(hours=undo_hours),
    )
    session.add(record)
    for customer, other_id in ((survivor, duplicate.id), (duplicate, survivor.id)):
        session.add(
            CustomerChange(
                customer_id=customer.id,
                action="merged",
                new={"survivor_id": str(survivor.id), "duplicate_id": str(duplicate.id), "other": str(other_id)},
                changed_by=principal.subject,
                changed_at=now,
            )
        )
    await session.flush()
    payload = {"survivor_id": str(survivor.id), "duplicate_id": str(duplicate.id), "merge_id": str(record.id)}
    await events.publish(session, events.CUSTOMER_MERGED, duplicate.id, payload, duplicate.version)
    if before:
        data_out = {**customer_service.event_data(survivor), "changed": sorted(before)}
        await events.publish(session, events.CUSTOMER_UPDATED, survivor.id, data_out, survivor.version)
    return record, conflicts


async def get_merge(session: Session, *, merge_id: uuid.UUID, principal: Principal) -> CustomerMerge:
    """A merge the caller may see: one of two customers they may both see (as merging needed)."""
    record = await merge_repo.get(session, merge_id)
    visible = record is not None
    for customer_id in (record.survivor_id, record.duplicate_id) if record is not None else ():
        visible = visible and access.can_see(principal, await customer_repo.owner_of(session, customer_id))
    if record is None or not visible:
        raise NotFound(f"merge {merge_id} does not exist", code="merge_not_found")
    return record


async def undo(session: Session, *, merge_id: uuid.UUID, principal: Principal) -> CustomerMerge:
    """Move the records back and restore both customers, if the window is still open."""
    record = await get_merge(session, merge_id=merge_id, principal=principal)
    await customer_repo.lock(session, [record.survivor_id, record.duplicate_id])
    await session.refresh(record)
    now = utcnow()
    if record.undone_at is not None:
        raise Conflict("this merge was already undone", code="merge_already_undone")
    if now > record.undo_until:
        raise Conflict("the window to undo this merge has closed", code="undo_window_closed")
    survivor = await customer_repo.get(session, record.survivor_id, include_deleted=True)
    duplicate = await customer_repo.get(session, record.duplicate_id, include_deleted=True)
    assert survivor is not None and duplicate is not None
    if survivor.deleted_at is not None:
        raise Conflict("the survivor was deleted or merged since; undo that first", code="survivor_gone")
    for kind in merge_repo.MOVABLE:
        ids = [uuid.UUID(i) for i in record.moved.get(kind, [])]
        if ids:
            await merge_repo.move(session, kind, ids, to=duplicate.id, held_by=survivor.id)
    for tier_id in record.moved.get(MANUAL_TIER, []):  # unless the survivor's tier was changed since
        await merge_repo.move_manual_tier(session, uuid.UUID(tier_id), held_by=survivor.id, to=duplicate.id)
    restored_ref = record.survivor_before.get("external_ref", "absent") is None
    if restored_ref:
        duplicate_ref, survivor.external_ref = survivor.external_ref, None
        await session.flush()
        duplicate.external_ref = duplicate_ref
    for name, value in record.survivor_before.items():
        if name != "external_ref":
            setattr(survivor, name, customer_service.from_plain(name, value))
    customer_service.index_for_search(survivor)
    duplicate.merged_into = None
    duplicate.deleted_at = None
    survivor.updated_at = duplicate.updated_at = now
    record.undone_at = now
    record.undone_by = principal.subject
    await session.flush()
    payload = {"survivor_id": str(survivor.id), "duplicate_id": str(duplicate.id), "moved": record.moved}
    await events.publish(session, events.CUSTOMER_UNMERGED, duplicate.id, payload, duplicate.version)
    await events.publish(
        session, events.CUSTOMER_UPDATED, duplicate.id, customer_service.event_data(duplicate), duplicate.version
    )
    await events.publish(
        session, events.CUSTOMER_UPDATED, survivor.id, customer_service.event_data(survivor), survivor.version
    )
    return record
