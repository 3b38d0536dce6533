"""Every query on organisations' contacts."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from crm_chassis.pagination import Page, paginate
from crm_customer.contacts.models import Contact

ORDER = [(Contact.created_at, False), (Contact.id, False)]


def live() -> ColumnElement[bool]:
    """Contacts not removed."""
    return Contact.deleted_at.is_(None)


async def get(session: AsyncSession, org_id: uuid.UUID, contact_id: uuid.UUID) -> Contact | None:
    stmt = select(Contact).where(Contact.id == contact_id, Contact.organization_id == org_id, live())
    return await session.scalar(stmt)


async def find_id(
    session: AsyncSession, org_id: uuid.UUID, *, person_id: uuid.UUID | None, name: str | None = None
) -> uuid.UUID | None:
    """The organisation's contact who is this customer, or (`person_id` None) who is not a customer
    and has this name."""
    stmt = select(Contact.id).where(Contact.organization_id == org_id, live())
    if person_id is not None:
        stmt = stmt.where(Contact.person_id == person_id)
    else:
        stmt = stmt.where(Contact.person_id.is_(None), Contact.name == name)
    return await session.scalar(stmt.limit(1))


async def list_page(session: AsyncSession, org_id: uuid.UUID, limit: int, cursor: str | None) -> Page[Contact]:
    stmt = select(Contact).where(Contact.organization_id == org_id, live())
    return await paginate(session, stmt, ORDER, "created_at", limit, cursor)


async def erase_person(session: AsyncSession, person_id: uuid.UUID, placeholder: str, now: datetime) -> None:
    """Blank the contact details of every contact who is this customer, named `placeholder` instead."""
    await session.execute(
        update(Contact)
        .where(Contact.person_id == person_id)
        .values(name=placeholder, email=None, phone=None, notes=None, updated_at=now)
    )
