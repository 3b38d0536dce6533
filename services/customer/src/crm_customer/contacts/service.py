"""Contacts of organisations and their roles."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_chassis.db import utcnow
from crm_chassis.errors import Conflict, NotFound, Unprocessable
from crm_chassis.pagination import paginate
from crm_customer import events
from crm_customer.contacts.models import Contact
from crm_customer.contacts.schemas import ContactCreate, ContactUpdate, Role
from crm_customer.customers import repository as customer_repo
from crm_customer.customers.models import Customer
from crm_customer.customers.service import normalise_phone

ORDER = [(Contact.created_at, False), (Contact.id, False)]


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


async def add(session: AsyncSession, *, org: Customer, data: ContactCreate, phone_region: str) -> Contact:
    _require_organization(org)
    name = data.name
    if data.customer_id is not None:
        person = await customer_repo.get(session, data.customer_id)
        if person is None:
            raise Unprocessable.field("customer_id", "unknown_customer", f"no customer {data.customer_id}")
        if person.kind != "individual":
            raise Unprocessable.field("customer_id", "not_individual", "a contact must be a person")
        taken = await session.scalar(
            select(Contact.id).where(
                Contact.organization_id == org.id, Contact.person_id == person.id, Contact.deleted_at.is_(None)
            )
        )
        if taken is not None:
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
        is_senior_leader=Role.senior_leader in data.roles,
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


async def get(session: AsyncSession, *, org_id: uuid.UUID, contact_id: uuid.UUID) -> Contact:
    contact = await session.scalar(
        select(Contact).where(Contact.id == contact_id, Contact.organization_id == org_id, Contact.deleted_at.is_(None))
    )
    if contact is None:
        raise NotFound(f"contact {contact_id} does not exist", code="contact_not_found")
    return contact


async def update(session: AsyncSession, *, contact: Contact, data: ContactUpdate, phone_region: str) -> Contact:
    changes = data.model_dump(exclude_unset=True, mode="python")
    for name in ("name", "roles"):
        if name in changes and changes[name] is None:
            raise Unprocessable.field(name, "required", f"{name} cannot be cleared")
    if "phone" in changes:
        changes["phone"] = _phone(changes["phone"], phone_region)
    if "roles" in changes:
        changes["roles"] = [Role(r).value for r in changes["roles"]]
        contact.is_senior_leader = Role.senior_leader.value in changes["roles"]
    for name, value in changes.items():
        setattr(contact, name, value)
    contact.updated_at = utcnow()
    await session.flush()
    await events.publish(session, events.CONTACT_UPDATED, contact.id, event_data(contact), contact.version)
    return contact


async def remove(session: AsyncSession, *, contact: Contact) -> None:
    contact.deleted_at = contact.updated_at = utcnow()
    await session.flush()
    await events.publish(session, events.CONTACT_REMOVED, contact.id, event_data(contact), contact.version)


async def list_page(
    session: AsyncSession, *, org_id: uuid.UUID, limit: int, cursor: str | None
) -> tuple[list[Contact], str | None]:
    stmt = select(Contact).where(Contact.organization_id == org_id, Contact.deleted_at.is_(None))
    return await paginate(session, stmt, ORDER, "created_at", limit, cursor)


async def organizations_of(session: AsyncSession, *, person_id: uuid.UUID) -> list[tuple[Contact, str]]:
    """Where a person is a contact: each contact row with its organisation's name."""
    rows = await session.execute(
        select(Contact, Customer.name)
        .join(Customer, Customer.id == Contact.organization_id)
        .where(Contact.person_id == person_id, Contact.deleted_at.is_(None), Customer.deleted_at.is_(None))
        .order_by(Customer.name)
    )
    return [(contact, name) for contact, name in rows]
