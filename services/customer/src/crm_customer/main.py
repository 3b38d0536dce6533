"""The customer service: the customer archive (DOMAIN.md §1)."""

from fastapi import FastAPI

from crm_chassis.app import create_service_app
from crm_customer.config import Settings
from crm_customer.contacts.router import router as contacts_router
from crm_customer.customers.router import router as customers_router
from crm_customer.db import SCHEMA, infra, metadata
from crm_customer.exports.router import router as exports_router
from crm_customer.imports.router import router as imports_router
from crm_customer.interactions.router import router as interactions_router
from crm_customer.loyalty.router import router as loyalty_router
from crm_customer.merge.router import router as merge_router
from crm_customer.orders.router import router as orders_router


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    return create_service_app(
        settings=settings,
        schema=SCHEMA,
        metadata=metadata,
        infra=infra,
        title="CRM customer service",
        description="The customer archive: people, organisations, contacts, the contact log, orders, points.",
        routers=[
            merge_router,
            customers_router,
            contacts_router,
            orders_router,
            interactions_router,
            loyalty_router,
            imports_router,
            exports_router,
        ],
        body_limits={"/imports": settings.import_max_bytes},
    )
