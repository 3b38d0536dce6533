from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel

from crm_chassis.db import SessionDep
from crm_chassis.etag import etag_for, not_modified, require_if_match
from crm_chassis.identity import Principal, PrincipalDep
from crm_chassis.pagination import Page, PageDep
from crm_customer import access
from crm_customer.contacts import service as contact_service
from crm_customer.contacts.models import Contact
from crm_customer.contacts.schemas import ContactCreate, ContactRead, ContactUpdate
from crm_customer.deps import CustomerDep, SettingsDep

router = APIRouter(tags=["contacts"])


async def valid_contact(customer: CustomerDep, contact_id: uuid.UUID, session: SessionDep) -> Contact:
    return await contact_service.get(session, org_id=customer.id, contact_id=contact_id)


ContactDep = Annotated[Contact, Depends(valid_contact)]


class Membership(BaseModel):
    organization_id: uuid.UUID
    organization_name: str
    contact_id: uuid.UUID
    roles: list[str]


def _view(contact: Contact, principal: Principal) -> ContactRead:
    """A contact, its email, phone and notes blanked for callers who may not see personal fields."""
    read = ContactRead.model_validate(contact)
    return read.model_copy(update=access.CONTACT_PII_FIELDS) if access.masks_pii(principal) else read


def _read(contact: Contact, response: Response, principal: Principal) -> ContactRead:
    response.headers["ETag"] = etag_for(contact.version)
    response.headers["Location"] = f"/customers/{contact.organization_id}/contacts/{contact.id}"
    return _view(contact, principal)


@router.post("/customers/{customer_id}/contacts", status_code=201, response_model=ContactRead, summary="Add a contact")
async def add_contact(
    customer: CustomerDep,
    body: ContactCreate,
    session: SessionDep,
    settings: SettingsDep,
    principal: PrincipalDep,
    response: Response,
) -> ContactRead:
    contact = await contact_service.add(
        session, org=customer, data=body, phone_region=settings.default_phone_region, principal=principal
    )
    return _read(contact, response, principal)


@router.get("/customers/{customer_id}/contacts", response_model=Page[ContactRead], summary="An organisation's contacts")
async def list_contacts(
    customer: CustomerDep, session: SessionDep, page: PageDep, principal: PrincipalDep
) -> Page[ContactRead]:
    found = await contact_service.list_page(session, org_id=customer.id, limit=page.limit, cursor=page.cursor)
    return found.map(lambda contact: _view(contact, principal))


@router.get(
    "/customers/{customer_id}/organizations", response_model=Page[Membership], summary="Where a person is a contact"
)
async def list_memberships(
    customer: CustomerDep, session: SessionDep, principal: PrincipalDep, page: PageDep
) -> Page[Membership]:
    found = await contact_service.organizations_of(
        session, person_id=customer.id, principal=principal, limit=page.limit, cursor=page.cursor
    )
    return found.map(
        lambda row: Membership(
            organization_id=row[0].organization_id, organization_name=row[1], contact_id=row[0].id, roles=row[0].roles
        )
    )


@router.get("/customers/{customer_id}/contacts/{contact_id}", response_model=ContactRead, summary="Read a contact")
async def read_contact(
    contact: ContactDep, request: Request, response: Response, principal: PrincipalDep
) -> ContactRead | Response:
    cached = not_modified(request, etag_for(contact.version))
    return cached if cached is not None else _read(contact, response, principal)


@router.patch("/customers/{customer_id}/contacts/{contact_id}", response_model=ContactRead, summary="Change a contact")
async def update_contact(
    contact: ContactDep,
    body: ContactUpdate,
    request: Request,
    response: Response,
    session: SessionDep,
    settings: SettingsDep,
    principal: PrincipalDep,
) -> ContactRead:
    require_if_match(request, etag_for(contact.version))
    updated = await contact_service.update(
        session, contact=contact, data=body, phone_region=settings.default_phone_region
    )
    return _read(updated, response, principal)


@router.delete("/customers/{customer_id}/contacts/{contact_id}", status_code=204, summary="Remove a contact")
async def remove_contact(contact: ContactDep, request: Request, session: SessionDep) -> Response:
    require_if_match(request, etag_for(contact.version))
    await contact_service.remove(session, contact=contact)
    return Response(status_code=204)
