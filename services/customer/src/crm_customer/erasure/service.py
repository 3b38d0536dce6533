"""Erasure of a customer's personal data (right to be forgotten).

The person disappears from the archive: every personal field, the free text written about them
(the contact log, points, concessions, a hand-set tier), their contact details as an
organisation's contact, and the old and new values in the audit history. What the business needs
for its aggregates stays, anonymised: orders, points, concessions and the bare customer row (kind,
lifecycle, owner, acquisition channel). Other services erase their copies on `customer.erased`.
"""

from __future__ import annotations

from typing import Any

from crm_chassis.db import utcnow
from crm_chassis.errors import Forbidden
from crm_chassis.identity import Principal
from crm_customer import events
from crm_customer.contacts import repository as contact_repo
from crm_customer.customers import repository as customer_repo
from crm_customer.customers.models import Customer, CustomerChange
from crm_customer.db import Session
from crm_customer.interactions import repository as interaction_repo
from crm_customer.loyalty import repository as loyalty_repo

ERASED_NAME = "(erased)"
PERSONAL: dict[str, Any] = {
    "email": None,
    "phone": None,
    "other_contacts": [],
    "address": None,
    "notes": None,
    "gender": None,
    "birth_date": None,
    "age_band": None,
    "education": None,
    "occupation": None,
    "family_status": None,
    "hobbies": [],
    "personality_notes": None,
    "taboos": [],
    "preferences": [],
    "best_contact_time": None,
    "preferred_channel": None,
    "purchasing_power": None,
    "custom_fields": {},
    "tags": [],
    "external_ref": None,
    "management": None,
    "purchasing_activities": None,
}


async def erase(session: Session, *, customer: Customer, principal: Principal) -> None:
    if principal.role != "admin":
        raise Forbidden("only an admin can erase personal data", code="erase_not_allowed")
    now = utcnow()
    for name, value in PERSONAL.items():
        setattr(customer, name, value)
    customer.name = ERASED_NAME
    customer.search_text = customer.search_pinyin = customer.search_han = ""
    customer.erased_at = customer.deleted_at = customer.updated_at = now
    await interaction_repo.erase_for_customer(session, customer.id, ERASED_NAME, now)
    await contact_repo.erase_person(session, customer.id, ERASED_NAME, now)
    await loyalty_repo.erase_text(session, customer.id)
    await customer_repo.erase_history(session, customer.id)
    session.add(CustomerChange(customer_id=customer.id, action="erased", changed_by=principal.subject, changed_at=now))
    await session.flush()
    await events.publish(session, events.CUSTOMER_ERASED, customer.id, {"id": str(customer.id)}, customer.version)
