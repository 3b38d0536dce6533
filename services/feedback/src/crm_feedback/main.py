"""The feedback service: complaints, suggestions, surveys (DOMAIN.md §3)."""

from fastapi import FastAPI

from crm_chassis.app import create_service_app
from crm_feedback.config import Settings
from crm_feedback.db import SCHEMA, infra, metadata
from crm_feedback.readmodel import models as _models  # noqa: F401 - registers the tables
from crm_feedback.workers import consumers


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    return create_service_app(
        settings=settings,
        schema=SCHEMA,
        metadata=metadata,
        infra=infra,
        title="CRM feedback service",
        description="Complaints, suggestions, service records and surveys.",
        routers=[],
        workers=[consumers],
    )
