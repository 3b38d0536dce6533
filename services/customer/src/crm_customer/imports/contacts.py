"""Organisations' contacts, added through the contacts service.

The organisation is named by `organization_id` or `organization_external_ref`, a contact who is a
customer by `customer_id` or `customer_external_ref`.

A person already a contact of the organisation (same `customer_id`), or a named contact with the
same name, is skipped, so a file can be sent again after a failure.
"""

from __future__ import annotations

import uuid

from pydantic import ValidationError

from crm_chassis.errors import AppError
from crm_customer.contacts import repository as contact_repo
from crm_customer.contacts import service as contact_service
from crm_customer.contacts.schemas import ContactCreate, ContactRead
from crm_customer.customers import service as customer_service
from crm_customer.db import IntegrityError, Session
from crm_customer.imports.columns import KindSpec
from crm_customer.imports.context import ImportContext
from crm_customer.imports.outcome import CONFLICTED, ChunkOutcome, Row, from_app_error, from_validation, savepoint
from crm_customer.imports.rows import resolved


class ContactRow(ContactCreate):
    """One contact and the organisation it belongs to."""

    organization_id: uuid.UUID


SPEC = KindSpec(
    model=ContactRow,
    read_model=ContactRead,
    natural_key="(organization_id, customer_id), or (organization_id, name) for a contact who is not a customer",
    references={"organization_external_ref": "organization_id", "customer_external_ref": "customer_id"},
)


async def process(session: Session, columns: list[str], rows: list[Row], ctx: ImportContext) -> ChunkOutcome:
    out = ChunkOutcome()
    for number, values in await resolved(session, SPEC, columns, rows, ctx.principal, out):
        try:
            row = ContactRow.model_validate(values)
        except ValidationError as exc:
            out.fail(number, from_validation(exc))
            continue
        try:
            org = await customer_service.get_visible(session, customer_id=row.organization_id, principal=ctx.principal)
            if await contact_repo.find_id(session, org.id, person_id=row.customer_id, name=row.name) is not None:
                out.skipped += 1
                continue
            data = ContactCreate.model_validate(row.model_dump(exclude={"organization_id"}))
            async with savepoint(session):
                await contact_service.add(
                    session, org=org, data=data, phone_region=ctx.phone_region, principal=ctx.principal
                )
        except AppError as exc:
            out.fail(number, from_app_error(exc))
            continue
        except IntegrityError:
            out.fail(number, [CONFLICTED])
            continue
        out.created += 1
    return out
