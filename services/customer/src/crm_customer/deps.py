"""Dependencies shared by the customer service's routers."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Request

from crm_chassis.db import SessionDep
from crm_chassis.identity import PrincipalDep
from crm_customer.config import Settings
from crm_customer.customers import service as customer_service
from crm_customer.customers.models import Customer


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(get_settings)]


async def valid_customer(
    customer_id: uuid.UUID, session: SessionDep, request: Request, principal: PrincipalDep
) -> Customer:
    """The live customer named in the path, if the caller may see it; 404, or for a merged one
    301 (reads) / 409 (writes)."""
    try:
        # Another's merged-away customer does not exist for the caller: no redirect naming the survivor.
        return await customer_service.get_visible(session, customer_id=customer_id, principal=principal)
    except customer_service.CustomerMerged as merged:
        if request.method in ("GET", "HEAD"):
            merged.status = 301
            merged.title = "Moved Permanently"
            suffix = request.url.path.removeprefix(f"/customers/{customer_id}")
            merged.headers["Location"] = f"/customers/{merged.extra['merged_into']}{suffix}"
        raise


CustomerDep = Annotated[Customer, Depends(valid_customer)]
