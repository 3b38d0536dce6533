"""The scoring service: customer value, churn and segments (DOMAIN.md §2)."""

from fastapi import FastAPI

from crm_chassis.app import create_service_app
from crm_chassis.dead_letters import event_retry
from crm_scoring.analytics.router import internal_router as internal_analytics_router
from crm_scoring.analytics.router import router as analytics_router
from crm_scoring.config import Settings
from crm_scoring.db import SCHEMA, infra, metadata
from crm_scoring.readmodel import models as _models  # noqa: F401 - registers the tables
from crm_scoring.readmodel.feedback import FEEDBACK_HANDLERS
from crm_scoring.readmodel.handlers import HANDLERS
from crm_scoring.reasons.router import router as reasons_router
from crm_scoring.retention.router import router as retention_router
from crm_scoring.runs.router import router as runs_router
from crm_scoring.scores.router import router as scores_router
from crm_scoring.settings.router import router as settings_router
from crm_scoring.workers import RESCORE_CONSUMER, consumers, rescoring, retry_rescore


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    return create_service_app(
        settings=settings,
        schema=SCHEMA,
        metadata=metadata,
        infra=infra,
        title="CRM scoring service",
        description="Customer value, churn and segments, fed by the other services' events.",
        routers=[
            scores_router,
            settings_router,
            runs_router,
            analytics_router,
            retention_router,
            reasons_router,
            internal_analytics_router,
        ],
        workers=[consumers, rescoring],
        dead_letter_retries={
            "customer-events": event_retry(HANDLERS),
            "feedback-events": event_retry(FEEDBACK_HANDLERS),
            RESCORE_CONSUMER: retry_rescore,
        },
    )
