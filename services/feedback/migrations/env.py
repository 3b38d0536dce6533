from crm_chassis.migrations import run_migrations
from crm_feedback.config import Settings
from crm_feedback.db import SCHEMA, metadata
from crm_feedback.readmodel import models  # noqa: F401 - registers the tables on the metadata

run_migrations(Settings().database_url, metadata, SCHEMA)
