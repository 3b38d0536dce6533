"""The feedback service: complaints, suggestions, service records, surveys (DOMAIN.md §3)."""

from fastapi import FastAPI

from crm_chassis.app import create_service_app
from crm_chassis.dead_letters import event_retry
from crm_feedback import models as _models  # noqa: F401 - registers every table on the metadata
from crm_feedback.analytics.router import internal_router as internal_analytics_router
from crm_feedback.analytics.router import router as analytics_router
from crm_feedback.complaints.router import router as complaints_router
from crm_feedback.config import Settings
from crm_feedback.db import SCHEMA, infra, metadata
from crm_feedback.readmodel.handlers import HANDLERS
from crm_feedback.service_records.router import router as service_records_router
from crm_feedback.sla.checks import SLA_CHECK_CONSUMER, retry_parked
from crm_feedback.sla.router import calendars_router as sla_calendars_router
from crm_feedback.sla.router import router as sla_router
from crm_feedback.suggestions.router import router as suggestions_router
from crm_feedback.surveys.exits import scoring_handlers
from crm_feedback.surveys.responses_router import router as survey_responses_router
from crm_feedback.surveys.router import router as surveys_router
from crm_feedback.workers import consumers, sla_watch


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    return create_service_app(
        settings=settings,
        schema=SCHEMA,
        metadata=metadata,
        infra=infra,
        title="CRM feedback service",
        description="Complaints with SLAs, suggestions, after-sales service records, surveys and "
        "satisfaction analytics.",
        # The token-answer route comes before `/surveys/{survey_id}` so `responses` is not read as an id.
        routers=[
            complaints_router,
            sla_router,
            sla_calendars_router,
            suggestions_router,
            service_records_router,
            survey_responses_router,
            surveys_router,
            analytics_router,
            internal_analytics_router,
        ],
        workers=[consumers, sla_watch],
        dead_letter_retries={
            "customer-events": event_retry(HANDLERS),
            "scoring-events": event_retry(scoring_handlers(settings)),
            SLA_CHECK_CONSUMER: retry_parked(settings),
        },
    )
