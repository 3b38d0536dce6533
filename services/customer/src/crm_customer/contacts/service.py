"""Contacts of organisations and their roles."""

from __future__ import annotations

import uuid
from typing import Any

from crm_chassis.db import utcnow
from crm_chassis.errors import Conflict, NotFound, Unprocessable
from crm_chassis.identity import Principal
from crm_chassis.pagination import Page
from crm_chassis.patching import changes_of
from crm_customer import access, events
from crm_customer.contacts import repository as contact_repo
from crm_customer.contacts.models import Contact
from crm_customer.contacts.schemas import ContactCreate, ContactRole, ContactUpdate
from crm_customer.customers import repository as customer_repo
from crm_customer.customers.models import Customer
from crm_customer.customers.service import normalise_phone
from crm_customer.db import Session


def event_data(contact: Contact) -> dict[str, Any]:
    return {
        "id": str(contact.id),
        "organization_id": str(contact.organization_id),
        "customer_id": None if contact.person_id is None else str(contact.person_id),
        "roles": contact.roles,
    }


def _require_organization(org: Customer) -> None:
    if org.kind != "organization":
        raise Conflict("only organisations have contacts", code="not_an_organization")


async def add(
    session: Session, *, org: Customer, data: ContactCreate, phone_region: str, principal: Principal
) -> Contact:
    _require_organization(org)
    name = data.name
    if data.customer_id is not None:
        person = await customer_repo.get(session, data.customer_id)
        # A person the caller may not see answers as one that does not exist.
        if person is None or not access.can_see(principal, person.owner_id):
            raise Unprocessable.field("customer_id", "unknown_customer", f"no customer {data.customer_id}")
        if person.kind != "individual":
            raise Unprocessable.field("customer_id", "not_individual", "a contact must be a person")
        if await contact_repo.find_id(session, org.id, person_id=person.id) is not None:
            raise Conflict("this person is already a contact of the organisation", code="duplicate_contact")
        name = name or person.name
    elif name is None:
        raise Unprocessable.field("name", "required", "give customer_id or a name")
    phone = _phone(data.phone, phone_region)
    now = utcnow()
    contact = Contact(
        id=uuid.uuid4(),
        organization_id=org.id,
        person_id=data.customer_id,
        name=name,
        title=data.title,
        email=data.email.lower() if data.email else None,
        phone=phone,
        roles=[r.value for r in data.roles],
        is_senior_leader=ContactRole.senior_leader in data.roles,
        notes=data.notes,
        created_at=now,
        updated_at=now,
    )
    session.add(contact)
    await session.flush()
    await events.publish(session, events.CONTACT_ADDED, contact.id, event_data(contact), contact.version)
    return contact


def _phone(raw: str | None, region: str) -> str | None:
    if raw is None:
        return None
    try:
        return normalise_phone(raw, region)
    except ValueError as exc:
        raise Unprocessable.field("phone", "invalid_phone", str(exc)) from exc


async def get(session: Session, *, org_id: uuid.UUID, contact_id: uuid.UUID) -> Contact:
    contact = await contact_repo.get(session, org_id, contact_id)
    if contact is None:
        raise NotFound(f"contact {contact_id} does not exist", code="contact_not_found")
    return contact


async def update(session: Session, *, contact: Contact, data: ContactUpdate, phone_region: str) -> Contact:
    changes = changes_of(data, not_nullable=("name", "roles"))
    if "phone" in changes:
        changes["phone"] = _phone(changes["phone"], phone_region)
    if "roles" in changes:
        changes["roles"] = [ContactRole(r).value for r in changes["roles"]]
        contact.is_senior_leader = ContactRole.senior_leader.value in changes["roles"]
    for name, value in changes.items():
        setattr(contact, name, value)
    contact.updated_at = utcnow()
    await session.flush()
    await events.publish(session, events.CONTACT_UPDATED, contact.id, event_data(contact), contact.version)
    return contact


async def remove(session: Session, *, contact: Contact) -> None:
    contact.deleted_at = contact.updated_at = utcnow()
    await session.flush()
    await events.publish(session, events.CONTACT_REMOVED, contact.id, event_data(contact), contact.version)


async def list_page(session: Session, *, org_id: uuid.UUID, limit: int, cursor: str | None) -> Page[Contact]:
    return await contact_repo.list_page(session, org_id, limit, cursor)


async def organizations_of(
    session: Session, *, person_id: uuid.UUID, principal: Principal, limit: int, cursor: str | None
) -> Page[Any]:
    """Where a person is a contact: rows of each contact with its organisation's name, of the
    organisations the caller may see."""
    return await customer_repo.organizations_of(session, person_id, principal, limit, cursor)
