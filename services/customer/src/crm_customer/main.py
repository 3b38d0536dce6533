"""The customer service: the customer archive (DOMAIN.md §1)."""

from fastapi import FastAPI

from crm_chassis.app import create_service_app
from crm_customer.config import Settings
from crm_customer.customers.router import router as customers_router
from crm_customer.db import SCHEMA, infra, metadata


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    return create_service_app(
        settings=settings,
        schema=SCHEMA,
        metadata=metadata,
        infra=infra,
        title="CRM customer service",
        description="The customer archive: people and organisations, owners, acquisition, lifecycle.",
        routers=[customers_router],
        body_limits={"/imports": settings.import_max_bytes},
    )
