"""The customer service: the customer archive (DOMAIN.md §1)."""

from fastapi import FastAPI

from crm_chassis.app import create_service_app
from crm_chassis.dead_letters import event_retry
from crm_customer.campaigns.router import router as campaigns_router
from crm_customer.config import Settings
from crm_customer.contacts.router import router as contacts_router
from crm_customer.customers.router import router as customers_router
from crm_customer.db import SCHEMA, infra, metadata
from crm_customer.exports.router import router as exports_router
from crm_customer.imports.router import router as imports_router
from crm_customer.interactions.router import router as interactions_router
from crm_customer.lifecycle.handlers import LIFECYCLE_CONSUMER, SCORE_HANDLERS, SCORING_CONSUMER, order_handlers
from crm_customer.loyalty.router import router as loyalty_router
from crm_customer.merge.router import router as merge_router
from crm_customer.orders.router import router as orders_router
from crm_customer.prospects.router import router as prospects_router
from crm_customer.reassign.router import router as reassign_router
from crm_customer.users import models as _users  # noqa: F401 - registers the tables
from crm_customer.users.handlers import USER_HANDLERS
from crm_customer.workers import GATEWAY_CONSUMER, consumers


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
            reassign_router,
            customers_router,
            contacts_router,
            orders_router,
            interactions_router,
            prospects_router,
            loyalty_router,
            imports_router,
            exports_router,
            campaigns_router,
        ],
        workers=[consumers],
        dead_letter_retries={
            GATEWAY_CONSUMER: event_retry(USER_HANDLERS),
            SCORING_CONSUMER: event_retry(SCORE_HANDLERS),
            LIFECYCLE_CONSUMER: event_retry(order_handlers(settings.activity_window_days)),
        },
        body_limits={
            "/imports": settings.import_max_bytes,
            "/orders/batch": settings.batch_max_bytes,
            "/customers/batch": settings.batch_max_bytes,
        },
    )
