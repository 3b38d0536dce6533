"""Rules of the customer archive: validation that needs settings or data, changes, events."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from datetime import date, datetime
from typing import Any, TypeVar

import phonenumbers
from pydantic import BaseModel

from crm_chassis.db import utcnow
from crm_chassis.errors import AppError, Conflict, Forbidden, NotFound, Unprocessable
from crm_chassis.identity import Principal
from crm_chassis.pagination import Page
from crm_chassis.patching import changes_of
from crm_customer import access, events
from crm_customer.customers import repository as customer_repo
from crm_customer.customers import search
from crm_customer.customers.models import Customer, CustomerChange, OwnerChange
from crm_customer.customers.schemas import (
    INDIVIDUAL_FIELDS,
    ORGANIZATION_FIELDS,
    CustomerCreate,
    CustomerFilters,
    CustomerSort,
    CustomerUpdate,
    Kind,
    OwnerChangeCreate,
)
from crm_customer.db import Session
from crm_customer.users import service as user_service


class CustomerMerged(AppError):
    """The customer was merged into another; the client should use that one."""

    status, code = 409, "customer_merged"

    def __init__(self, customer_id: uuid.UUID, merged_into: uuid.UUID) -> None:
        super().__init__(
            f"customer {customer_id} was merged into {merged_into}",
            merged_into=str(merged_into),
            headers={"Location": f"/customers/{merged_into}"},
        )


_NOT_NULLABLE = ("name", "lifecycle_stage")
WithOwnerT = TypeVar("WithOwnerT", bound=BaseModel)
_LIST_FIELDS = {"other_contacts", "tags", "hobbies", "taboos", "preferences", "business_lines"}


def normalise_phone(raw: str, region: str) -> str:
    """E.164 form of a phone number; numbers without a country code are read as `region`'s."""
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException as exc:
        raise ValueError(f"not a phone number: {exc}") from exc
    if not phonenumbers.is_valid_number(number):
        raise ValueError(f"not a valid phone number for region {region} (add the country code, e.g. +86)")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def search_values(
    name: str, email: str | None, phone: str | None, other_contacts: list[dict[str, Any]] | None
) -> dict[str, str]:
    """The search columns of a customer with this name and these contacts."""
    others = [c.get("value") or "" for c in other_contacts or []]
    text, pinyin, han = search.columns(name, email, phone, others)
    return {"search_text": text, "search_pinyin": pinyin, "search_han": han}


def index_for_search(customer: Customer) -> None:
    """Write the customer's search columns from its name and contacts: every write path calls this."""
    for column, value in search_values(customer.name, customer.email, customer.phone, customer.other_contacts).items():
        setattr(customer, column, value)


def _shape_errors(kind: str, changes: dict[str, Any], region: str) -> list[dict[str, str]]:
    """The checks that need settings but no other rows; phone numbers are normalised in place."""
    errors: list[dict[str, str]] = []
    wrong_kind = ORGANIZATION_FIELDS if kind == Kind.individual else INDIVIDUAL_FIELDS
    for name in sorted(wrong_kind & {k for k, v in changes.items() if v not in (None, [])}):
        errors.append({"field": name, "code": "not_for_kind", "message": f"{name} does not apply to a {kind}"})
    if changes.get("phone"):
        try:
            changes["phone"] = normalise_phone(changes["phone"], region)
        except ValueError as exc:
            errors.append({"field": "phone", "code": "invalid_phone", "message": str(exc)})
    for i, contact in enumerate(changes.get("other_contacts") or []):
        if contact["type"] == "phone":
            try:
                contact["value"] = normalise_phone(contact["value"], region)
            except ValueError as exc:
                errors.append({"field": f"other_contacts.{i}.value", "code": "invalid_phone", "message": str(exc)})
    return errors


def _referral_error(referred_by: uuid.UUID, customer_id: uuid.UUID | None, referable: bool) -> dict[str, str] | None:
    """`referable`: whether `referred_by` is a live customer the caller may see (one they may not
    see answers as one that does not exist)."""
    if referred_by == customer_id:
        return {"field": "referred_by", "code": "self_referral", "message": "a customer cannot refer itself"}
    if not referable:
        return {"field": "referred_by", "code": "unknown_customer", "message": "no such customer"}
    return None


def _checked(changes: dict[str, Any], errors: list[dict[str, str]]) -> dict[str, Any]:
    """422 listing every bad field; else the changes, cleared lists and objects made empty."""
    if errors:
        raise Unprocessable("invalid input: " + ", ".join(e["field"] for e in errors), errors=errors)
    for name in _LIST_FIELDS & changes.keys():
        if changes[name] is None:
            changes[name] = []
    if "custom_fields" in changes and changes["custom_fields"] is None:
        changes["custom_fields"] = {}
    return changes


async def _referable(session: Session, referred_by: uuid.UUID | None, principal: Principal) -> set[uuid.UUID]:
    """`{referred_by}` if it names a live customer the caller may see, else nothing."""
    if referred_by is None or not await customer_repo.exists_active(session, referred_by):
        return set()
    return {referred_by} if access.can_see(principal, await customer_repo.owner_of(session, referred_by)) else set()


async def _validated(
    session: Session,
    kind: str,
    changes: dict[str, Any],
    region: str,
    customer_id: uuid.UUID | None,
    principal: Principal,
) -> dict[str, Any]:
    """Apply the checks that need settings or other rows; 422 listing every bad field."""
    errors = _shape_errors(kind, changes, region)
    referred_by = changes.get("referred_by")
    if referred_by is not None:
        referable = referred_by in await _referable(session, referred_by, principal)
        if (error := _referral_error(referred_by, customer_id, referable)) is not None:
            errors.append(error)
    return _checked(changes, errors)


def draft_fields(
    data: CustomerCreate, region: str, principal: Principal
) -> tuple[dict[str, Any], list[dict[str, str]]]:
    """The fields of a customer to create and what is wrong with them, as far as `create` checks
    them without other rows (no database: an import works these out in a worker thread)."""
    fields = changes_of(data, not_nullable=_NOT_NULLABLE)
    fields["owner_id"] = access.default_owner(principal, fields.get("owner_id"))
    return fields, _shape_errors(data.kind, fields, region)


def finish_fields(
    fields: dict[str, Any], errors: list[dict[str, str]], referable: Collection[uuid.UUID] | None
) -> dict[str, Any]:
    """The checked fields of `draft_fields`, given the live customers the caller may see among those
    the items name in `referred_by` (None: that check is left for later); 422 listing every bad field."""
    referred_by = fields.get("referred_by")
    if referable is not None and referred_by is not None:
        error = _referral_error(referred_by, None, referred_by in referable)
        errors = errors if error is None else [*errors, error]
    return _jsonable(_checked(fields, errors))


async def _check_external_ref(session: Session, external_ref: str | None, customer_id: uuid.UUID | None) -> None:
    if external_ref is None:
        return
    holder = await customer_repo.id_by_external_ref(session, external_ref)
    if holder is not None and holder != customer_id:
        raise Conflict(
            f"external_ref {external_ref!r} already belongs to another customer",
            code="duplicate_external_ref",
            existing_id=str(holder),
        )


def event_data(customer: Customer) -> dict[str, Any]:
    """What other services may know of a customer: the display name, and what the account
    manager needs to make contact (phone, preferred channel, best time), which the gateway takes
    out of webhook deliveries (docs/events.md)."""
    return {
        "id": str(customer.id),
        "kind": customer.kind,
        "name": customer.name,
        "phone": customer.phone,
        "preferred_channel": customer.preferred_channel,
        "best_contact_time": customer.best_contact_time,
        "influence_level": customer.influence_level,
        "industry_standing": customer.industry_standing,
        "owner_id": str(customer.owner_id) if customer.owner_id else None,
        "lifecycle_stage": customer.lifecycle_stage,
        "acquisition_channel": customer.acquisition_channel,
        "referred_by": str(customer.referred_by) if customer.referred_by else None,
        "created_at": customer.created_at.isoformat(),
    }


def plain(value: Any) -> Any:
    """A JSON value for the audit history."""
    if isinstance(value, uuid.UUID | date | datetime):
        return value.isoformat() if not isinstance(value, uuid.UUID) else str(value)
    return value


_DATE_FIELDS = {"birth_date"}
_UUID_FIELDS = {"owner_id", "referred_by"}


def from_plain(name: str, value: Any) -> Any:
    """The column value for a JSON value written by `plain`."""
    if value is None:
        return None
    if name in _UUID_FIELDS:
        return uuid.UUID(value)
    if name in _DATE_FIELDS:
        return date.fromisoformat(value)
    return value


def _audit(session: Session, customer: Customer, principal: Principal, action: str, **change: Any) -> None:
    session.add(
        CustomerChange(
            id=uuid.uuid4(),
            customer_id=customer.id,
            action=action,
            changed_by=principal.subject,
            changed_at=utcnow(),
            **{k: plain(v) for k, v in change.items()},
        )
    )


async def _owner_changed(
    session: Session, customer: Customer, previous: uuid.UUID | None, principal: Principal, reason: str | None
) -> None:
    session.add(
        OwnerChange(
            id=uuid.uuid4(),
            customer_id=customer.id,
            from_owner_id=previous,
            to_owner_id=customer.owner_id,
            reason=reason,
            changed_by=principal.subject,
            changed_at=utcnow(),
        )
    )
    data = {
        **event_data(customer),
        "from_owner_id": None if previous is None else str(previous),
        "to_owner_id": None if customer.owner_id is None else str(customer.owner_id),
        "reason": reason,
    }
    await events.publish(session, events.CUSTOMER_OWNER_CHANGED, customer.id, data, customer.version)


async def create(
    session: Session, *, data: CustomerCreate, phone_region: str, principal: Principal
) -> tuple[Customer, bool]:
    """The new customer and True; or, for a repost of a partner's `external_ref` that repeats every
    field it sends, the customer created the first time and False."""
    fields, errors = draft_fields(data, phone_region, principal)
    fields = finish_fields(fields, errors, await _referable(session, fields.get("referred_by"), principal))
    if fields.get("external_ref") is not None:
        existing = await _repost(session, fields, data.model_fields_set, principal)
        if existing is not None:
            return existing, False
    if fields.get("owner_id") is not None:
        await user_service.check_owner(session, principal, fields["owner_id"])
    row = new_row(data, fields, principal, utcnow())
    customer = Customer(**row)
    session.add(customer)
    await session.flush()
    await events.publish(session, events.CUSTOMER_CREATED, customer.id, event_data(customer), customer.version)
    session.add(CustomerChange(**creation_audit(row, fields, principal)))
    return customer, True


_FIXED, _FRESH = customer_repo.column_defaults()
_SET_BY_NEW_ROW = frozenset({"id", "created_at", "updated_at"})


def new_row(data: CustomerCreate, fields: dict[str, Any], principal: Principal, now: datetime) -> dict[str, Any]:
    """Every column of a new customer from its checked fields (`finish_fields`): one builder for the
    single create and the bulk path, so that both write the same row."""
    row = dict(_FIXED)
    for name, make in _FRESH.items():
        if name not in fields and name not in _SET_BY_NEW_ROW:
            row[name] = make()
    row |= fields
    row |= {"id": uuid.uuid4(), "created_at": now, "updated_at": now}
    if "lifecycle_stage" in data.model_fields_set:  # a stage given at creation is set by hand
        row |= {"lifecycle_cause": "set by hand", "lifecycle_set_by": principal.subject, "lifecycle_changed_at": now}
    row |= search_values(row["name"], row["email"], row["phone"], row["other_contacts"])
    return row


def creation_audit(row: dict[str, Any], fields: dict[str, Any], principal: Principal) -> dict[str, Any]:
    """The history row of a creation: the fields it was created with."""
    return {
        "id": uuid.uuid4(),
        "customer_id": row["id"],
        "action": "created",
        "field": None,
        "old": None,
        "new": {k: plain(v) for k, v in fields.items()},
        "changed_by": principal.subject,
        "changed_at": row["created_at"],
        "cause": None,
    }


async def _repost(session: Session, fields: dict[str, Any], sent: set[str], principal: Principal) -> Customer | None:
    """The customer already holding the `external_ref` being created, if the request repeats it.

    A holder the caller cannot see answers as if the fields differed, without naming them.
    """
    external_ref = fields["external_ref"]
    holder_id = await customer_repo.id_by_external_ref(session, external_ref)
    if holder_id is None:
        return None
    holder = await customer_repo.get(session, holder_id)
    if holder is None or not access.can_see(principal, holder.owner_id):
        raise Conflict(
            f"external_ref {external_ref!r} already belongs to another customer", code="external_ref_conflict"
        )
    values = _jsonable({name: value for name, value in fields.items() if name in sent or name == "kind"})
    differing = sorted(name for name, value in values.items() if getattr(holder, name) != value)
    if differing:
        raise Conflict(
            f"a customer was created under external_ref {external_ref!r} with other values: {', '.join(differing)}",
            code="external_ref_conflict",
            existing_id=str(holder.id),
            differing=differing,
        )
    return holder


async def get(session: Session, *, customer_id: uuid.UUID) -> Customer:
    customer = await customer_repo.get(session, customer_id)
    if customer is None:
        merged_into = await customer_repo.merged_into(session, customer_id)
        if merged_into is not None:
            raise CustomerMerged(customer_id, merged_into)
        raise NotFound(f"customer {customer_id} does not exist", code="customer_not_found")
    return customer


async def get_visible(session: Session, *, customer_id: uuid.UUID, principal: Principal) -> Customer:
    """`get` for a caller: a customer they may not see, merged away or not, does not exist for them
    (404, no `CustomerMerged` naming the survivor)."""
    try:
        customer = await get(session, customer_id=customer_id)
    except CustomerMerged:
        if not access.can_see(principal, await customer_repo.owner_of(session, customer_id)):
            raise NotFound(f"customer {customer_id} does not exist", code="customer_not_found") from None
        raise
    if not access.can_see(principal, customer.owner_id):
        raise NotFound(f"customer {customer_id} does not exist", code="customer_not_found")
    return customer


async def update(
    session: Session,
    *,
    customer: Customer,
    data: CustomerUpdate,
    phone_region: str,
    principal: Principal,
    owner_reason: str | None = None,
) -> Customer:
    fields = changes_of(data, not_nullable=_NOT_NULLABLE)
    if "owner_id" in fields and principal.role == "agent" and fields["owner_id"] != customer.owner_id:
        raise Forbidden("only managers and admins reassign customers", code="reassign_not_allowed")
    fields = await _validated(session, customer.kind, fields, phone_region, customer.id, principal)
    await _check_external_ref(session, fields.get("external_ref"), customer.id)
    values = _jsonable(fields)
    changed = [name for name, value in values.items() if getattr(customer, name) != value]
    if not changed:
        return customer
    if "owner_id" in changed and values["owner_id"] is not None:
        await user_service.check_owner(session, principal, values["owner_id"])
    previous_owner = customer.owner_id
    for name in changed:
        _audit(session, customer, principal, "updated", field=name, old=getattr(customer, name), new=values[name])
        setattr(customer, name, values[name])
    if "lifecycle_stage" in changed:  # set by a person: it holds until the next rule fires
        customer.lifecycle_cause = "set by hand"
        customer.lifecycle_set_by = principal.subject
        customer.lifecycle_changed_at = utcnow()
    index_for_search(customer)
    customer.updated_at = utcnow()
    await session.flush()
    await events.publish(
        session,
        events.CUSTOMER_UPDATED,
        customer.id,
        {**event_data(customer), "changed": sorted(changed)},
        customer.version,
    )
    if "owner_id" in changed:
        await _owner_changed(session, customer, previous_owner, principal, owner_reason)
    return customer


async def reassign(
    session: Session, *, customer: Customer, data: OwnerChangeCreate, principal: Principal, phone_region: str
) -> Customer:
    """Give the customer another account manager, recording why."""
    if principal.role == "agent":
        raise Forbidden("only managers and admins reassign customers", code="reassign_not_allowed")
    if data.owner_id == customer.owner_id:
        raise Conflict("the customer already has this account manager", code="same_owner")
    update_data = CustomerUpdate(owner_id=data.owner_id)
    return await update(
        session,
        customer=customer,
        data=update_data,
        phone_region=phone_region,
        principal=principal,
        owner_reason=data.reason,
    )


async def delete(session: Session, *, customer: Customer, principal: Principal) -> None:
    now = utcnow()
    _audit(session, customer, principal, "deleted")
    customer.deleted_at = now
    customer.updated_at = now
    await session.flush()
    await events.publish(session, events.CUSTOMER_DELETED, customer.id, {"id": str(customer.id)}, customer.version)


async def list_page(
    session: Session,
    *,
    filters: CustomerFilters,
    sort: CustomerSort,
    limit: int,
    cursor: str | None,
    principal: Principal,
) -> Page[Customer]:
    # A caller who may not see personal fields searches by name only: no finding a customer by phone.
    names_only = access.masks_pii(principal)
    return await customer_repo.list_page(session, filters, sort, limit, cursor, principal, names_only)


def _jsonable(fields: dict[str, Any]) -> dict[str, Any]:
    """Nested models and UUIDs inside JSON columns become plain JSON values."""
    out = dict(fields)
    if out.get("address") is not None:
        out["address"] = {k: v for k, v in out["address"].items() if v is not None}
    if out.get("other_contacts"):
        out["other_contacts"] = [
            {k: str(v) if v is not None else None for k, v in c.items()} for c in out["other_contacts"]
        ]
    return out


async def history_page(
    session: Session, *, customer_id: uuid.UUID, limit: int, cursor: str | None
) -> Page[CustomerChange]:
    return await customer_repo.history_page(session, customer_id, limit, cursor)


async def owner_history(
    session: Session, *, customer_id: uuid.UUID, limit: int, cursor: str | None
) -> Page[OwnerChange]:
    return await customer_repo.owner_history(session, customer_id, limit, cursor)


async def referrals(
    session: Session, *, customer_id: uuid.UUID, limit: int, cursor: str | None, principal: Principal
) -> tuple[int, Page[Customer]]:
    """The customers this one brought that the caller may see, and how many."""
    return await customer_repo.referrals(session, customer_id, limit, cursor, principal)


async def with_owner_names(session: Session, items: Sequence[WithOwnerT]) -> list[WithOwnerT]:
    """The customers' bodies with `owner_name` from the read model of users (one query)."""
    names = await user_service.names(session, [getattr(item, "owner_id", None) for item in items])
    return [
        item.model_copy(update={"owner_name": names.get(getattr(item, "owner_id", None))})  # type: ignore[arg-type]
        for item in items
    ]


RULE_ACTOR = "rule"


async def set_stage_by_rule(session: Session, customer: Customer, stage: str, cause: str) -> bool:
    """Move the lifecycle stage as a rule says, recording the cause in the history; whether it moved.

    A stage set by hand holds until a rule fires: this is that rule firing.
    """
    if customer.lifecycle_stage == stage:
        return False
    now = utcnow()
    session.add(
        CustomerChange(
            id=uuid.uuid4(),
            customer_id=customer.id,
            action="updated",
            field="lifecycle_stage",
            old=customer.lifecycle_stage,
            new=stage,
            changed_by=RULE_ACTOR,
            changed_at=now,
            cause=cause,
        )
    )
    customer.lifecycle_stage = stage
    customer.lifecycle_cause = cause
    customer.lifecycle_set_by = None
    customer.lifecycle_changed_at = now
    customer.updated_at = now
    await session.flush()
    data = {**event_data(customer), "changed": ["lifecycle_stage"]}
    await events.publish(session, events.CUSTOMER_UPDATED, customer.id, data, customer.version)
    return True
