"""Organisations' contacts, added through the contacts service.

A person already a contact of the organisation (same `customer_id`), or a named contact with the
same name, is skipped, so a file can be sent again after a failure.
"""

from __future__ import annotations

import uuid

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from crm_chassis.errors import AppError, NotFound
from crm_customer import access
from crm_customer.contacts import service as contact_service
from crm_customer.contacts.models import Contact
from crm_customer.contacts.schemas import ContactCreate, ContactRead
from crm_customer.customers import service as customer_service
from crm_customer.imports.columns import KindSpec, row_values
from crm_customer.imports.context import ImportContext
from crm_customer.imports.outcome import CONFLICTED, ChunkOutcome, Row, from_app_error, from_validation, savepoint


class ContactRow(ContactCreate):
    """One contact and the organisation it belongs to."""

    organization_id: uuid.UUID


SPEC = KindSpec(
    model=ContactRow,
    read_model=ContactRead,
    natural_key="(organization_id, customer_id), or (organization_id, name) for a contact who is not a customer",
)


async def _exists(session: AsyncSession, row: ContactRow) -> bool:
    stmt = select(Contact.id).where(Contact.organization_id == row.organization_id, Contact.deleted_at.is_(None))
    if row.customer_id is not None:
        stmt = stmt.where(Contact.person_id == row.customer_id)
    else:
        stmt = stmt.where(Contact.person_id.is_(None), Contact.name == row.name)
    return await session.scalar(stmt.limit(1)) is not None


async def process(session: AsyncSession, columns: list[str], rows: list[Row], ctx: ImportContext) -> ChunkOutcome:
    out = ChunkOutcome()
    for number, cells in rows:
        values, problems = row_values(SPEC, columns, cells)
        if problems:
            out.fail(number, problems)
            continue
        try:
            row = ContactRow.model_validate(values)
        except ValidationError as exc:
            out.fail(number, from_validation(exc))
            continue
        try:
            org = await customer_service.get(session, customer_id=row.organization_id)
            if not access.can_see(ctx.principal, org.owner_id):
                raise NotFound(f"customer {row.organization_id} does not exist", code="customer_not_found")
            if await _exists(session, row):
                out.skipped += 1
                continue
            data = ContactCreate.model_validate(row.model_dump(exclude={"organization_id"}))
            async with savepoint(session):
                await contact_service.add(session, org=org, data=data, phone_region=ctx.phone_region)
        except AppError as exc:
            out.fail(number, from_app_error(exc))
            continue
        except IntegrityError:
            out.fail(number, [CONFLICTED])
            continue
        out.created += 1
    return out
