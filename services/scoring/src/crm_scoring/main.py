"""The scoring service: customer value, churn and segments (DOMAIN.md §2)."""

from fastapi import FastAPI

from crm_chassis.app import create_service_app
from crm_scoring.analytics.router import router as analytics_router
from crm_scoring.config import Settings
from crm_scoring.db import SCHEMA, infra, metadata
from crm_scoring.readmodel import models as _models  # noqa: F401 - registers the tables
from crm_scoring.runs.router import router as runs_router
from crm_scoring.scores.router import router as scores_router
from crm_scoring.settings.router import router as settings_router
from crm_scoring.workers import consumers, rescoring


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    return create_service_app(
        settings=settings,
        schema=SCHEMA,
        metadata=metadata,
        infra=infra,
        title="CRM scoring service",
        description="Customer value, churn and segments, fed by the other services' events.",
        routers=[scores_router, settings_router, runs_router, analytics_router],
        workers=[consumers, rescoring],
    )
